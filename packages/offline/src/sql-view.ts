/**
 * SQL views on the offline store (docs/design/window-aggregations.md §5.1): the apply-time check
 * of their SELECT and the refresh of one interval.
 *
 * The text is rendered by Tessera only: each placeholder becomes the table of the view version the
 * registry resolved it to (`` `db`.`fv_<view>__v<n>` ``, identifiers from the registry), and the two
 * interval parameters become `fromUnixTimestamp64Milli(<integer>, 'UTC')` computed here (an integer
 * Tessera chose; on chDB bound parameters are avoided, see historical/entity-source.ts). The result
 * goes through the SQL guard (one SELECT, no SETTINGS/FORMAT, no forbidden function) with one more
 * rule: every table it reads is a placeholder's table, so the recorded lineage is complete. Only
 * the guard's canonical text runs, wrapped as `INSERT … SELECT … FROM (…)`.
 *
 * The apply-time `DESCRIBE` runs the same text with each placeholder replaced by an empty stand-in
 * of its table instead (`SELECT defaultValueOfTypeName('<column type>') AS <column>, … LIMIT 0`,
 * the columns and types of the table's DDL): the output types are the same, and the check needs no
 * table — the views it reads may be created by the same apply, or only planned (a dry run).
 *
 * An SQL view over an event view reads its main table: the events it aggregates are the eligible
 * ones, as for window aggregations (excluded events live in `__excluded`, design §1.3).
 */
import {
  SQL_VIEW_END_PARAMETER,
  SQL_VIEW_START_PARAMETER,
  TesseraError,
  resolveSqlViewText,
  type RegisteredView,
  type ValueType,
} from '@tessera/core';
import { CREATED_TS_COLUMN, EVENT_TS_COLUMN, columnsOf, qualifiedName, quoteIdentifier, tableName } from './ddl.js';
import type { ClickHouseExecutor, QuerySettings } from './executor.js';
import { guardEntitySql } from './historical/sql-guard.js';

/** Settings of the DESCRIBE (it reads no rows, but stays bounded). */
const DESCRIBE_SETTINGS: QuerySettings = { max_execution_time: 30, timeout_overflow_mode: 'throw' };

/** The interval the apply-time check renders the parameters with (any valid one would do). */
const CHECK_INTERVAL = { startMillis: 0, endMillis: 86_400_000 };

function sqlOf(view: RegisteredView): { sql: string; reads: readonly string[] } {
  if (view.kind !== 'sql' || view.sql === undefined) {
    throw new TesseraError('INVALID_ARGUMENT', `feature view ${view.name}@${view.version} is not an SQL view`);
  }
  return view.sql;
}

function timestampLiteral(millis: number): string {
  if (!Number.isSafeInteger(millis))
    throw new TesseraError('INTERNAL', `SQL view interval bound ${millis} is not an integer`);
  return `fromUnixTimestamp64Milli(toInt64(${millis}), 'UTC')`;
}

/**
 * The guarded, canonical SELECT of an SQL view version for the interval [start, end): placeholders
 * resolved, parameters rendered, checked by the guard. INVALID_ARGUMENT names the view and reason.
 */
export async function renderSqlView(
  executor: ClickHouseExecutor,
  database: string,
  view: RegisteredView,
  interval: { readonly startMillis: number; readonly endMillis: number },
): Promise<string> {
  const { sql, reads } = sqlOf(view);
  const tables = new Set<string>();
  const resolved = resolveSqlViewText(sql, reads, (name, version) => {
    const table = tableName({ name, version });
    tables.add(table);
    return qualifiedName(database, table);
  });
  const text = resolved
    .split(SQL_VIEW_START_PARAMETER)
    .join(timestampLiteral(interval.startMillis))
    .split(SQL_VIEW_END_PARAMETER)
    .join(timestampLiteral(interval.endMillis));
  try {
    return await guardEntitySql(executor, text, {
      database,
      allowedTables: {
        tables,
        rule: `is not read through a placeholder: name every view the SQL reads as {{ view }} or {{ view@n }} (its lineage is recorded from them)`,
      },
    });
  } catch (error) {
    if (error instanceof TesseraError && error.code === 'INVALID_ARGUMENT') {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `SQL view ${view.name}: sql ${error.message.replace(/^entity_sql: /, '')}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** An output column the view's table expects: a join key, event_ts or a feature, and its model type. */
interface Expected {
  readonly name: string;
  readonly role: 'join key' | 'event_ts' | 'feature';
  readonly type: ValueType | 'event_ts';
}

function expectedColumns(view: RegisteredView): Expected[] {
  return [
    ...view.joinKeys.map((k): Expected => ({ name: k.name, role: 'join key', type: k.type })),
    { name: EVENT_TS_COLUMN, role: 'event_ts', type: 'event_ts' },
    ...view.features.map((f): Expected => ({ name: f.name, role: 'feature', type: f.type })),
  ];
}

/** `Nullable(LowCardinality(String))` → `String`; whether it was Nullable. */
function baseType(type: string): { base: string; nullable: boolean } {
  let base = type.trim();
  let nullable = false;
  for (;;) {
    const match = /^(Nullable|LowCardinality)\((.*)\)$/.exec(base);
    if (match === null) return { base, nullable };
    if (match[1] === 'Nullable') nullable = true;
    base = match[2] ?? '';
  }
}

// UInt64 is accepted for int64 (count() is UInt64); a value above 2^63 − 1 would not fit.
const INTEGER = /^U?Int(8|16|32|64)$/;

/** A NULL key would be stored as the type's default ('' or 0): an entity nobody wrote. */
const NULLABLE_KEY = 'it may be NULL, and a join key may not: filter NULLs out and wrap it in assumeNotNull(…)';

/** The fix to suggest for a column of ClickHouse type `type` that should hold `expected`, or undefined when compatible. */
function typeProblem(expected: Expected, type: string): string | undefined {
  const { base, nullable } = baseType(type);
  switch (expected.type) {
    case 'event_ts':
      if (nullable) return 'it may be NULL; every row needs an event time: wrap it in assumeNotNull(…)';
      return /^(DateTime64\(.*\)|DateTime(\(.*\))?|Date|Date32)$/.test(base)
        ? undefined
        : 'event_ts must be a DateTime64, DateTime or Date: convert it with toDateTime64(…, 3)';
    case 'int64':
      if (INTEGER.test(base)) {
        if (expected.role === 'join key' && nullable) return NULLABLE_KEY;
        return undefined;
      }
      return `wrap it in toInt64(…)`;
    case 'double':
      return /^Float(32|64)$/.test(base) || INTEGER.test(base) ? undefined : 'wrap it in toFloat64(…)';
    case 'string':
    case 'bytes':
      if (/^(String|FixedString\(\d+\))$/.test(base)) {
        if (expected.role === 'join key' && nullable) return NULLABLE_KEY;
        return undefined;
      }
      return 'wrap it in toString(…)';
    case 'bool':
      return base === 'Bool' || base === 'UInt8' ? undefined : 'wrap it in toBool(…)';
    case 'timestamp':
      return /^(DateTime64\(.*\)|DateTime(\(.*\))?)$/.test(base) ? undefined : 'convert it with toDateTime64(…, 3)';
    default:
      return `type ${expected.type} is not supported in an SQL view`;
  }
}

/**
 * Checks an SQL view version as an apply would store it: its SELECT passes the guard, reads only
 * its placeholders' tables, and `DESCRIBE (…)` shows exactly the view's join keys, `event_ts` and
 * features, each of a compatible type. INVALID_ARGUMENT names the view, the column and the fix.
 * `reads` are the view versions of its lineage (`view.sql.reads`), as registered or planned.
 */
export async function checkSqlView(
  executor: ClickHouseExecutor,
  database: string,
  view: RegisteredView,
  reads: readonly RegisteredView[],
): Promise<void> {
  await renderSqlView(executor, database, view, CHECK_INTERVAL);
  const { sql, reads: lineage } = sqlOf(view);
  const standIn = resolveSqlViewText(sql, lineage, (name, version) => {
    const read = reads.find((r) => r.name === name && r.version === version);
    if (read === undefined)
      throw new TesseraError('INTERNAL', `SQL view ${view.name}: no definition of ${name}@${version}`);
    return emptyStandIn(read);
  });
  const text = standIn
    .split(SQL_VIEW_START_PARAMETER)
    .join(timestampLiteral(CHECK_INTERVAL.startMillis))
    .split(SQL_VIEW_END_PARAMETER)
    .join(timestampLiteral(CHECK_INTERVAL.endMillis));
  let rows: { name: string; type: string }[];
  try {
    rows = await executor.queryJson<{ name: string; type: string }>(`DESCRIBE (${text})`, undefined, {
      settings: DESCRIBE_SETTINGS,
    });
  } catch (error) {
    if (error instanceof TesseraError && error.code === 'INVALID_ARGUMENT') {
      const reason = error.message.replace(/^.*?DB::Exception: /s, '').replace(/[:.]?\s*In scope[\s\S]*$/, '');
      throw new TesseraError('INVALID_ARGUMENT', `SQL view ${view.name}: sql does not run: ${reason.slice(0, 500)}`, {
        cause: error,
      });
    }
    throw error;
  }
  const what = `SQL view ${view.name}`;
  const problems: string[] = [];
  const expected = expectedColumns(view);
  const byName = new Map(rows.map((r) => [r.name, r.type]));
  for (const column of expected) {
    const type = byName.get(column.name);
    if (type === undefined) {
      problems.push(
        `column ${column.name} (${column.role}${column.role === 'feature' ? ` ${column.type}` : ''}) is missing from the SELECT's output; return it, e.g. … AS ${column.name}`,
      );
      continue;
    }
    const fix = typeProblem(column, type);
    if (fix !== undefined) {
      const declared = column.type === 'event_ts' ? 'event_ts' : `${column.role} ${column.name} is ${column.type}`;
      problems.push(`column ${column.name} is ${type}, ${declared}: ${fix}`);
    }
  }
  const known = new Set(expected.map((c) => c.name));
  for (const row of rows) {
    if (!known.has(row.name)) {
      problems.push(
        `column ${row.name} is not a join key, event_ts or feature of the view; remove it from the SELECT or declare it as a feature`,
      );
    }
  }
  if (problems.length > 0) throw new TesseraError('INVALID_ARGUMENT', `${what}: ${problems.join('; ')}`);
}

/** An empty subquery with the columns and types of `view`'s table (its DDL's). */
function emptyStandIn(view: RegisteredView): string {
  const columns = columnsOf(view).map(
    (c) => `defaultValueOfTypeName('${c.type.replace(/'/g, "\\'")}') AS ${quoteIdentifier(c.name, 'column')}`,
  );
  return `(SELECT ${columns.join(', ')} LIMIT 0)`;
}

/** Options of {@link refreshSqlView}. */
export interface RefreshSqlViewOptions {
  /** ClickHouse insert deduplication token: a retried refresh of the same interval inserts once. */
  readonly dedupToken: string;
  /** Extra settings of the insert (cluster mode inserts synchronously into the shards). */
  readonly settings?: QuerySettings;
  readonly signal?: AbortSignal;
}

/**
 * Computes the rows of an SQL view version for [start, end) into its table: one
 * `INSERT INTO <table> (…) SELECT …, now64(6) FROM (<canonical>) WHERE event_ts in the interval`.
 * Rows the SELECT returns outside the interval are not inserted (a refresh owns its interval only).
 */
export async function refreshSqlView(
  executor: ClickHouseExecutor,
  database: string,
  view: RegisteredView,
  interval: { readonly startMillis: number; readonly endMillis: number },
  options: RefreshSqlViewOptions,
): Promise<void> {
  const canonical = await renderSqlView(executor, database, view, interval);
  const columns = expectedColumns(view).map((c) => quoteIdentifier(c.name, 'column'));
  const sql =
    `INSERT INTO ${qualifiedName(database, tableName(view))} (${[...columns, quoteIdentifier(CREATED_TS_COLUMN)].join(', ')}) ` +
    `SELECT ${columns.join(', ')}, now64(6) FROM (${canonical}) ` +
    `WHERE ${quoteIdentifier(EVENT_TS_COLUMN)} >= ${timestampLiteral(interval.startMillis)} ` +
    `AND ${quoteIdentifier(EVENT_TS_COLUMN)} < ${timestampLiteral(interval.endMillis)}`;
  await executor.command(sql, undefined, {
    settings: { insert_deduplication_token: options.dedupToken, ...options.settings },
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
}
