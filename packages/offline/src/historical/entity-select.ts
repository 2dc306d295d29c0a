/**
 * An entity SELECT: checked by the SQL guard and DESCRIBE, then materialised once into the
 * per-request entity table (`INSERT … SELECT` numbering the rows in the order the SELECT returns
 * them), so the join and the key pruning read the same rows.
 */
import { TesseraError, type JoinKeySpec, type JoinKeyType, type ValueType } from '@tessera/core';
import { clickHouseTypeOf, isListType, joinKeyClickHouseType } from '../ddl.js';
import type { ClickHouseExecutor } from '../executor.js';
import {
  EVENT_TS,
  ROW_ID_COLUMN,
  countRows,
  queryOptions,
  unboundInteger,
  type EntityColumn,
  type EntityTable,
  type QueryContext,
} from './entities.js';
import { quoteInput } from './quote-input.js';
import { guardEntitySql } from './sql-guard.js';
import { quoteAnyIdentifier } from './sql-text.js';

function invalid(message: string): TesseraError {
  return new TesseraError('INVALID_ARGUMENT', message);
}

function resourceExhausted(message: string): TesseraError {
  return new TesseraError('RESOURCE_EXHAUSTED', message);
}

interface Normalized {
  readonly type: ValueType;
  readonly storage: string;
  expression(column: string): string;
}

function unwrap(type: string, wrapper: string): string {
  return type.startsWith(`${wrapper}(`) && type.endsWith(')') ? type.slice(wrapper.length + 1, -1) : type;
}

/** How a column of the entity SELECT shows in the output (anything unknown becomes text). */
function normalize(chType: string): Normalized {
  const inner = unwrap(unwrap(unwrap(chType, 'LowCardinality'), 'Nullable'), 'LowCardinality');
  const scalar = (type: ValueType, fn: (c: string) => string): Normalized => ({
    type,
    storage: clickHouseTypeOf(type),
    expression: fn,
  });
  if (/^U?Int(8|16|32|64|128|256)$/.test(inner)) return scalar('int64', (c) => `toInt64(${c})`);
  if (/^(Float(32|64)|BFloat16|Decimal.*)$/.test(inner)) return scalar('double', (c) => `toFloat64(${c})`);
  if (inner === 'Bool') return scalar('bool', (c) => c);
  if (/^(Date|Date32|DateTime|DateTime64)(\(.*\))?$/.test(inner)) {
    return scalar('timestamp', (c) => `toDateTime64(${c}, 3, 'UTC')`);
  }
  const lists: Record<string, ValueType> = {
    'Array(Float32)': 'float_list',
    'Array(Float64)': 'double_list',
    'Array(Int64)': 'int64_list',
    'Array(Int32)': 'int64_list',
    'Array(String)': 'string_list',
  };
  const list = lists[inner];
  if (list !== undefined) {
    const storage = clickHouseTypeOf(list);
    return { type: list, storage, expression: (c) => `CAST(${c} AS ${storage})` };
  }
  return scalar('string', (c) => `toString(${c})`);
}

/** Re-labels a failure of the user's SELECT as INVALID_ARGUMENT (keeps UNAVAILABLE, deadlines). */
function entitySqlError(error: unknown): unknown {
  if (error instanceof TesseraError && (error.code === 'INVALID_ARGUMENT' || error.code === 'INTERNAL')) {
    return new TesseraError('INVALID_ARGUMENT', `the entity SELECT failed: ${error.message}`, { cause: error });
  }
  return error;
}

/**
 * Checks an entity SELECT with the SQL guard (sql-guard.ts: one SELECT over the offline
 * database's tables, nothing else) and materialises at most `maxRows` of its rows into `table`.
 * Throws INVALID_ARGUMENT for a refused or failing SELECT, RESOURCE_EXHAUSTED when it returns
 * more than `maxRows` rows.
 */
export async function materializeEntitySql(
  executor: ClickHouseExecutor,
  table: string,
  sql: string,
  requiredKeys: readonly JoinKeySpec[],
  database: string,
  maxRows: number,
  context: QueryContext,
): Promise<EntityTable> {
  const canonical = await guardEntitySql(executor, sql, { database, signal: context.signal });
  let described: { name: string; type: string }[];
  try {
    described = await executor.queryJson<{ name: string; type: string }>(
      `DESCRIBE (${canonical})`,
      undefined,
      queryOptions(context),
    );
  } catch (error) {
    throw entitySqlError(error);
  }
  const byName = new Map(described.map((c) => [c.name, c.type]));
  const missing = [...requiredKeys.map((k) => k.name), EVENT_TS].filter((name) => !byName.has(name));
  if (missing.length > 0) {
    throw invalid(
      `the entity SELECT lacks the column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} ` +
        `(it returns ${quoteInput(described.map((c) => c.name).join(', ')) || 'no columns'}; the requested features need the join keys and ${EVENT_TS})`,
    );
  }
  const keyTypes = new Map(requiredKeys.map((k) => [k.name, k.type]));
  const columns: EntityColumn[] = [];
  const keyColumns = new Map<string, string>();
  const definitions = [`${ROW_ID_COLUMN} UInt64`];
  const expressions = ['rowNumberInAllBlocks()'];
  const nullChecks: { column: string; name: string }[] = [];
  const keyDescribed = described.filter((c) => keyTypes.has(c.name));
  keyDescribed.forEach((c, i) => {
    const type = keyTypes.get(c.name) as JoinKeyType;
    const column = `k${i}`;
    const nullable = c.type.includes('Nullable(');
    definitions.push(
      `${column} ${nullable ? `Nullable(${joinKeyClickHouseType(type)})` : joinKeyClickHouseType(type)}`,
    );
    expressions.push(
      type === 'int64' ? `toInt64(${quoteAnyIdentifier(c.name)})` : `toString(${quoteAnyIdentifier(c.name)})`,
    );
    if (nullable) nullChecks.push({ column, name: c.name });
    keyColumns.set(c.name, column);
    columns.push({ name: c.name, type, column, role: 'join_key' });
  });
  const tsType = byName.get(EVENT_TS) as string;
  const tsNullable = tsType.includes('Nullable(');
  definitions.push(`${EVENT_TS} ${tsNullable ? "Nullable(DateTime64(3, 'UTC'))" : "DateTime64(3, 'UTC')"}`);
  expressions.push(`toDateTime64(${quoteAnyIdentifier(EVENT_TS)}, 3, 'UTC')`);
  if (tsNullable) nullChecks.push({ column: EVENT_TS, name: EVENT_TS });
  columns.push({ name: EVENT_TS, type: 'timestamp', column: EVENT_TS, role: 'event_ts' });
  described
    .filter((c) => !keyTypes.has(c.name) && c.name !== EVENT_TS && c.name !== ROW_ID_COLUMN)
    .forEach((c, p) => {
      const normal = normalize(c.type);
      const column = `p${p}`;
      definitions.push(`${column} ${normal.storage}`);
      expressions.push(normal.expression(quoteAnyIdentifier(c.name)));
      const list = isListType(normal.type);
      if (list) {
        definitions.push(`${column}__null UInt8`);
        expressions.push('0');
      }
      columns.push({
        name: c.name,
        type: normal.type,
        column,
        ...(list ? { nullFlagColumn: `${column}__null` } : {}),
        role: 'passthrough',
      });
    });
  await executor.command(
    `CREATE TABLE ${table} (${definitions.join(', ')}) ENGINE = MergeTree ORDER BY ${ROW_ID_COLUMN}`,
    undefined,
    { signal: context.signal },
  );
  try {
    // One thread: rows are numbered in the order the SELECT returns them. One row past the limit
    // tells "too many" from "exactly the limit" without counting the whole SELECT. Not a bound
    // query: see unboundInteger.
    await executor.command(
      `INSERT INTO ${table} SELECT ${expressions.join(', ')} FROM (${canonical}) LIMIT ${unboundInteger(maxRows + 1)} SETTINGS max_threads = 1`,
      undefined,
      queryOptions(context),
    );
  } catch (error) {
    throw entitySqlError(error);
  }
  for (const check of nullChecks) {
    const rows = await executor.queryJson<{ row: string }>(
      `SELECT toString(${ROW_ID_COLUMN}) AS row FROM ${table} WHERE isNull(${check.column}) ORDER BY ${ROW_ID_COLUMN} LIMIT 1`,
      undefined,
      queryOptions(context),
    );
    const first = rows[0];
    if (first !== undefined) {
      throw invalid(
        `entity row ${first.row}: ${check.name === EVENT_TS ? EVENT_TS : `join key "${check.name}"`} is NULL`,
      );
    }
  }
  const rowCount = await countRows(executor, table, context);
  if (rowCount > maxRows) {
    throw resourceExhausted(`the entity SELECT returns more than the limit of ${maxRows} entity rows`);
  }
  return { rowCount, columns, keyColumns };
}
