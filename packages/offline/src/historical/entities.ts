/**
 * Entity rows of a historical request, put into a per-request table with a row id:
 * inline rows are validated and uploaded as a TabSeparated payload (values never in SQL text);
 * an entity SELECT is checked with DESCRIBE and materialised once (`INSERT … SELECT` numbering the
 * rows in the order the SELECT returns them), so the join and the key pruning read the same rows.
 *
 * The table's columns are positional (`k0…`, `p0…`): no user-given name becomes an identifier.
 */
import { clickHouseTypeOf, isListType, joinKeyClickHouseType } from '../ddl.js';
import { TesseraError, type FeatureValue, type JoinKeySpec, type JoinKeyType, type ValueType } from '@tessera/core';
import type { EntityRowsInput, TypedColumn } from '@tessera/core';
import type { ClickHouseExecutor, QuerySettings } from '../executor.js';
import { quoteInput } from './quote-input.js';
import { guardEntitySql } from './sql-guard.js';
import { quoteAnyIdentifier } from './sql-text.js';

export const ROW_ID_COLUMN = '__tessera_row_id';
/** Inline entity rows: the event time as sent, whole ms since the epoch (`event_ts` is computed from it). */
const TS_MILLIS_COLUMN = '__tessera_ts_ms';
export const EVENT_TS = 'event_ts';

/** DateTime64(3) holds 1900-01-01 … 2299-12-31T23:59:59.999 UTC. */
export const MIN_TS_MILLIS = Date.UTC(1900, 0, 1);
export const MAX_TS_MILLIS = Date.UTC(2300, 0, 1) - 1;

/** One column of the entity table that the output shows. */
export interface EntityColumn {
  /** Output name. */
  readonly name: string;
  readonly type: ValueType;
  /** Column of the entity table. */
  readonly column: string;
  /** For list columns: the 0/1 column saying "no value". */
  readonly nullFlagColumn?: string;
  /** For bytes columns stored as hex text. */
  readonly hex?: boolean;
  readonly role: 'join_key' | 'event_ts' | 'passthrough';
}

/** The per-request entity table, once filled. */
export interface EntityTable {
  readonly rowCount: number;
  /** Output columns in output order: join keys, event_ts, passthrough. */
  readonly columns: readonly EntityColumn[];
  /** Join key name → entity table column. */
  readonly keyColumns: ReadonlyMap<string, string>;
}

function invalid(message: string): TesseraError {
  return new TesseraError('INVALID_ARGUMENT', message);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// ---------------------------------------------------------------- TabSeparated encoding

function escapeTsv(text: string): string {
  return text.replace(/[\\\t\n\r\0]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0',
  );
}

function quoteInArray(text: string): string {
  return `'${text.replace(/[\\'\t\n\r\0]/g, (c) =>
    c === '\\' ? '\\\\' : c === "'" ? "\\'" : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0',
  )}'`;
}

function floatText(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0';
  return String(x);
}

/** `YYYY-MM-DD hh:mm:ss.sss` in UTC (the caller checked the range). */
export function dateTime64Text(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** TSV text of a passthrough value, or undefined when the value does not have the column's type. */
function valueText(type: ValueType, value: FeatureValue): string | undefined {
  if (value === null) return isListType(type) ? '[]' : '\\N';
  switch (type) {
    case 'int64':
      return typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX ? value.toString() : undefined;
    case 'double':
      return typeof value === 'number' ? floatText(value) : undefined;
    case 'string':
      return typeof value === 'string' ? escapeTsv(value) : undefined;
    case 'bool':
      return typeof value === 'boolean' ? (value ? 'true' : 'false') : undefined;
    case 'timestamp':
      return typeof value === 'number' && Number.isInteger(value) && value >= MIN_TS_MILLIS && value <= MAX_TS_MILLIS
        ? dateTime64Text(value)
        : undefined;
    case 'bytes':
      return value instanceof Uint8Array ? hexOf(value) : undefined;
    case 'float_list':
      return value instanceof Float32Array ? `[${Array.from(value, floatText).join(',')}]` : undefined;
    case 'double_list':
      return value instanceof Float64Array ? `[${Array.from(value, floatText).join(',')}]` : undefined;
    case 'int64_list':
      return value instanceof BigInt64Array ? `[${Array.from(value, (v) => v.toString()).join(',')}]` : undefined;
    case 'string_list':
      return Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? escapeTsv(`[${(value as readonly string[]).map(quoteInArray).join(',')}]`)
        : undefined;
  }
}

// ---------------------------------------------------------------- inline rows

/** Rows per insert of the entity upload: bounds the payload string. */
const UPLOAD_BATCH_ROWS = 100_000;

/**
 * Validates inline entity rows and uploads them into `table` (created here).
 * `requiredKeys` are the join keys of every requested view (name → type).
 */
export async function uploadInlineRows(
  executor: ClickHouseExecutor,
  table: string,
  /** `db.table` unquoted (checked identifiers), as raw inserts take it. */
  insertTable: string,
  input: Extract<EntityRowsInput, { kind: 'rows' }>,
  requiredKeys: readonly JoinKeySpec[],
  signal: AbortSignal,
): Promise<EntityTable> {
  const n = input.eventTsMillis.length;
  const columns: EntityColumn[] = [];
  const keyColumns = new Map<string, string>();
  const keyTypes = new Map(requiredKeys.map((k) => [k.name, k.type]));
  for (const key of requiredKeys) {
    if (!input.keys.has(key.name)) {
      throw invalid(`entity rows lack the join key column "${key.name}" (needed by the requested features)`);
    }
  }
  const keyValues: (readonly (bigint | string)[])[] = [];
  const keyTypeList: JoinKeyType[] = [];
  let k = 0;
  for (const [name, values] of input.keys) {
    if (values.length !== n) {
      throw invalid(
        `entity rows: join key column "${name}" has ${values.length} values but there are ${n} event timestamps`,
      );
    }
    const type: JoinKeyType =
      keyTypes.get(name) ?? (values.length > 0 && typeof values[0] === 'string' ? 'string' : 'int64');
    for (let row = 0; row < n; row += 1) {
      const value = values[row];
      const ok =
        type === 'int64'
          ? typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX
          : typeof value === 'string';
      if (!ok) {
        throw invalid(
          `entity row ${row}: join key "${name}" must be ${type === 'int64' ? 'a 64-bit integer' : 'a string'}, ` +
            `got ${value === undefined || value === null ? 'no value' : typeof value}`,
        );
      }
    }
    const column = `k${k}`;
    k += 1;
    keyValues.push(values);
    keyTypeList.push(type);
    keyColumns.set(name, column);
    columns.push({ name, type, column, role: 'join_key' });
  }
  for (let row = 0; row < n; row += 1) {
    const ts = input.eventTsMillis[row];
    if (typeof ts !== 'number' || !Number.isInteger(ts) || ts < MIN_TS_MILLIS || ts > MAX_TS_MILLIS) {
      throw invalid(
        `entity row ${row}: ${EVENT_TS} must be whole milliseconds between 1900-01-01 and 2299-12-31 UTC, got ${String(ts)}`,
      );
    }
  }
  columns.push({ name: EVENT_TS, type: 'timestamp', column: EVENT_TS, role: 'event_ts' });
  const passthrough = input.passthrough;
  passthrough.forEach((col: TypedColumn, p) => {
    if (col.values.length !== n) {
      throw invalid(`entity rows: column "${col.name}" has ${col.values.length} values but there are ${n} rows`);
    }
    const list = isListType(col.type);
    columns.push({
      name: col.name,
      type: col.type,
      column: `p${p}`,
      ...(list ? { nullFlagColumn: `p${p}__null` } : {}),
      ...(col.type === 'bytes' ? { hex: true } : {}),
      role: 'passthrough',
    });
  });

  const definitions = [
    `${ROW_ID_COLUMN} UInt64`,
    ...keyTypeList.map((type, i) => `k${i} ${joinKeyClickHouseType(type)}`),
    // Sent as whole milliseconds and converted by ClickHouse: formatting a date text per row in
    // Node was half of the upload's time (0.9 s of 1.8 s for 1M rows).
    `${TS_MILLIS_COLUMN} Int64`,
    `${EVENT_TS} DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(${TS_MILLIS_COLUMN}, 'UTC')`,
    ...passthrough.flatMap((col, p) =>
      isListType(col.type)
        ? [`p${p} ${clickHouseTypeOf(col.type)}`, `p${p}__null UInt8`]
        : [`p${p} ${clickHouseTypeOf(col.type)}`],
    ),
  ];
  const insertColumns = [
    ROW_ID_COLUMN,
    ...keyTypeList.map((_, i) => `k${i}`),
    TS_MILLIS_COLUMN,
    ...passthrough.flatMap((col, p) => (isListType(col.type) ? [`p${p}`, `p${p}__null`] : [`p${p}`])),
  ];
  await executor.command(
    `CREATE TABLE ${table} (${definitions.join(', ')}) ENGINE = MergeTree ORDER BY ${ROW_ID_COLUMN}`,
    undefined,
    { signal },
  );

  for (let start = 0; start < n; start += UPLOAD_BATCH_ROWS) {
    const end = Math.min(n, start + UPLOAD_BATCH_ROWS);
    const lines: string[] = [];
    for (let row = start; row < end; row += 1) {
      const fields: string[] = [String(row)];
      keyValues.forEach((values, i) => {
        const value = values[row] as bigint | string;
        fields.push(keyTypeList[i] === 'int64' ? (value as bigint).toString() : escapeTsv(value as string));
      });
      fields.push(String(input.eventTsMillis[row]));
      for (const col of passthrough) {
        const value = col.values[row] ?? null;
        const text = valueText(col.type, value);
        if (text === undefined) {
          throw invalid(`entity row ${row}: column "${col.name}" must hold ${col.type} values`);
        }
        fields.push(text);
        if (isListType(col.type)) fields.push(value === null ? '1' : '0');
      }
      lines.push(fields.join('\t'));
    }
    lines.push('');
    await executor.insertRaw(insertTable, Buffer.from(lines.join('\n'), 'utf8'), {
      format: 'TabSeparated',
      columns: insertColumns,
      signal,
    });
  }
  return { rowCount: n, columns, keyColumns };
}

// ---------------------------------------------------------------- entity SELECT

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

/** How the queries of one request run: cancelled by `signal`, bounded by `settings()` (taken per query). */
export interface QueryContext {
  readonly signal: AbortSignal;
  /** The limits of a query started now (its time limit shrinks with the call's deadline). */
  settings(): QuerySettings;
}

function resourceExhausted(message: string): TesseraError {
  return new TesseraError('RESOURCE_EXHAUSTED', message);
}

/**
 * A whole number Tessera computed, as SQL text. The queries that may run long (the entity
 * SELECT, the view spine, the join) are not bound queries: on chDB a bound query waits for every
 * other bound query to end and cannot be found by `KILL QUERY` (chdb-executor.ts). Only integers
 * checked here enter their text; caller input never does.
 */
export function unboundInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new TesseraError('INTERNAL', `not a safe integer: ${String(value)}`);
  return String(value);
}

/** Options of a query of `context`: its signal and the limits of a query started now. */
export function queryOptions(context: QueryContext): { signal: AbortSignal; settings: QuerySettings } {
  return { signal: context.signal, settings: context.settings() };
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

/** Rows of the entity table. */
export async function countRows(executor: ClickHouseExecutor, table: string, context: QueryContext): Promise<number> {
  const count = await executor.queryJson<{ n: string }>(
    `SELECT toString(count()) AS n FROM ${table}`,
    undefined,
    queryOptions(context),
  );
  return Number(count[0]?.n ?? 0);
}
