/**
 * Entity rows of a historical request, put into a per-request table with a row id:
 * inline rows are validated and uploaded as a TabSeparated payload (values never in SQL text);
 * an entity SELECT is materialised once (entity-select.ts), so the join and the key pruning read
 * the same rows.
 *
 * The table's columns are positional (`k0…`, `p0…`): no user-given name becomes an identifier.
 */
import { clickHouseTypeOf, isListType, joinKeyClickHouseType } from '../ddl.js';
import { TesseraError, type JoinKeySpec, type JoinKeyType, type ValueType } from '@tessera/core';
import type { EntityRowsInput, TypedColumn } from '@tessera/core';
import type { ClickHouseExecutor, QuerySettings } from '../executor.js';
import { INT64_MAX, INT64_MIN, MAX_TS_MILLIS, MIN_TS_MILLIS, escapeTsv, valueText } from './entity-tsv.js';

export const ROW_ID_COLUMN = '__tessera_row_id';
/** Inline entity rows: the event time as sent, whole ms since the epoch (`event_ts` is computed from it). */
const TS_MILLIS_COLUMN = '__tessera_ts_ms';
export const EVENT_TS = 'event_ts';

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

/** How the queries of one request run: cancelled by `signal`, bounded by `settings()` (taken per query). */
export interface QueryContext {
  readonly signal: AbortSignal;
  /** The limits of a query started now (its time limit shrinks with the call's deadline). */
  settings(): QuerySettings;
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

/** Rows of the entity table. */
export async function countRows(executor: ClickHouseExecutor, table: string, context: QueryContext): Promise<number> {
  const count = await executor.queryJson<{ n: string }>(
    `SELECT toString(count()) AS n FROM ${table}`,
    undefined,
    queryOptions(context),
  );
  return Number(count[0]?.n ?? 0);
}
