import { TesseraError } from '@tessera/core';
import type { FeatureValue, ValueType } from '@tessera/core';
import { toColumn } from '@tessera/wire';
import type { Column } from '@tessera/proto';

/** A time as callers hold it: ms since the Unix epoch, a Date, or an RFC 3339 string. */
export type TimeInput = number | bigint | Date | string;

/** One row to write: join keys and features by name, plus the event time field. */
export type WriteRow = Readonly<Record<string, FeatureValue | TimeInput | undefined>>;

/** Rows to write as columns: values by column name, one event time per row. */
export interface WriteColumns {
  readonly columns: Readonly<Record<string, readonly FeatureValue[]>>;
  readonly eventTimestamps: readonly TimeInput[];
}

/** One Write message's worth of rows, typed and columnar. */
export interface WriteBatch {
  readonly columns: Record<string, Column>;
  readonly eventTimestamps: Column;
  readonly rows: number;
}

/** Longest batch a client sends by default: half the server's default limit (limits.maxBatchRows). */
export const DEFAULT_WRITE_BATCH_ROWS = 5_000;

/** Milliseconds since the Unix epoch of a time input; a clear error naming `where` otherwise. */
export function toEpochMillis(value: TimeInput | FeatureValue | undefined, where: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.getTime();
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new TesseraError(
    'INVALID_ARGUMENT',
    `${where}: expected a time (ms since the epoch, a Date or an RFC 3339 string), got ${describe(value)}`,
  );
}

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length <= 60 ? text : `${text.slice(0, 60)}… (${text.length} chars)`;
}

/**
 * Splits rows (or columns) into typed Write batches of at most `batchRows` rows. `types` holds every
 * join key and feature of the view; a column the view does not have is refused here, naming it,
 * before anything is sent. Missing features are null; a missing join key or event time is refused.
 */
export function toWriteBatches(
  view: string,
  types: ReadonlyMap<string, ValueType>,
  joinKeys: readonly string[],
  data: readonly WriteRow[] | WriteColumns,
  options: { batchRows: number; eventTimestampField: string },
): WriteBatch[] {
  const columns = Array.isArray(data)
    ? rowsToColumns(data as readonly WriteRow[], options.eventTimestampField)
    : (data as WriteColumns);
  const rowCount = columns.eventTimestamps.length;
  for (const [name, values] of Object.entries(columns.columns)) {
    if (!types.has(name)) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `write ${view}: column ${name} is neither a join key nor a feature of the view (it has ${[...types.keys()].join(', ')})`,
      );
    }
    if (values.length !== rowCount) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `write ${view}: column ${name} has ${values.length} values for ${rowCount} event times`,
      );
    }
  }
  for (const key of joinKeys) {
    if (columns.columns[key] === undefined) {
      throw new TesseraError('INVALID_ARGUMENT', `write ${view}: join key column ${key} is missing`);
    }
  }
  const eventMillis = columns.eventTimestamps.map((t, i) => toEpochMillis(t, `write ${view}: row ${i}, event time`));
  const size = Math.max(1, Math.floor(options.batchRows));
  const batches: WriteBatch[] = [];
  for (let start = 0; start < rowCount || (start === 0 && rowCount === 0); start += size) {
    const end = Math.min(rowCount, start + size);
    const out: Record<string, Column> = {};
    for (const [name, values] of Object.entries(columns.columns)) {
      const type = types.get(name) ?? 'string';
      const slice = values.slice(start, end);
      out[name] = toColumn(
        type,
        type === 'timestamp' ? slice.map((v, i) => timestampValue(v, view, name, start + i)) : slice,
      );
    }
    batches.push({
      columns: out,
      eventTimestamps: toColumn('timestamp', eventMillis.slice(start, end)),
      rows: end - start,
    });
    if (rowCount === 0) break;
  }
  return batches;
}

function timestampValue(value: FeatureValue, view: string, column: string, row: number): FeatureValue {
  return value === null || value === undefined
    ? null
    : toEpochMillis(value, `write ${view}: row ${row}, column ${column}`);
}

function rowsToColumns(rows: readonly WriteRow[], eventField: string): WriteColumns {
  const names = new Set<string>();
  for (const row of rows) for (const name of Object.keys(row)) if (name !== eventField) names.add(name);
  const columns: Record<string, FeatureValue[]> = {};
  for (const name of names) columns[name] = rows.map((row) => (row[name] ?? null) as FeatureValue);
  const eventTimestamps = rows.map((row, i) => {
    const t = row[eventField];
    if (t === undefined || t === null) {
      throw new TesseraError('INVALID_ARGUMENT', `row ${i}: no event time (field ${eventField})`);
    }
    return t as TimeInput;
  });
  return { columns, eventTimestamps };
}
