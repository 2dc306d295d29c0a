import { TesseraError, describeValue } from '@tessera/core/basics';
import type { FeatureValue, ValueType } from '@tessera/core/basics';
import { TesseraClientError } from './service-error.js';
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
 * A write refused before anything is sent, in the server's words: INVALID_ARGUMENT, the message
 * naming the first problem, and the problem list (`file`, `path`, `message`).
 */
function refused(label: string, path: string, message: string): TesseraClientError {
  return new TesseraClientError('INVALID_ARGUMENT', `Write to ${label} rejected: ${path}: ${message}`, {
    grpcCode: 3,
    problems: [{ file: `write ${label}`, path, message }],
  });
}

/** Feature names the server lists for an unknown column (the first 20). */
const MAX_SHOWN_FEATURES = 20;

/**
 * Splits rows (or columns) into typed Write batches of at most `batchRows` rows. `types` holds every
 * join key and feature of the view; a column the view does not have, a value that does not fit its
 * column, a missing join key or event time are refused here — as {@link TesseraClientError}s naming
 * row, column and rule, as the server would — before anything is sent. Missing features are null.
 * `view` is the view's label (`name@version`).
 */
export function toWriteBatches(
  view: string,
  types: ReadonlyMap<string, ValueType>,
  joinKeys: readonly string[],
  data: readonly WriteRow[] | WriteColumns,
  options: { batchRows: number; eventTimestampField: string },
): WriteBatch[] {
  const columns = Array.isArray(data)
    ? rowsToColumns(data as readonly WriteRow[], options.eventTimestampField, view)
    : (data as WriteColumns);
  const rowCount = columns.eventTimestamps.length;
  for (const [name, values] of Object.entries(columns.columns)) {
    if (!types.has(name)) {
      const features = [...types.keys()].filter((k) => !joinKeys.includes(k));
      const shown = features.length > MAX_SHOWN_FEATURES ? [...features.slice(0, MAX_SHOWN_FEATURES), '…'] : features;
      throw refused(
        view,
        `column ${name}`,
        `unknown column: ${view} has join keys ${joinKeys.join(', ')} and features ${shown.join(', ')}`,
      );
    }
    if (values.length !== rowCount) {
      throw refused(view, `column ${name}`, `has ${values.length} values for ${rowCount} event times`);
    }
  }
  for (const key of joinKeys) {
    if (columns.columns[key] === undefined) throw refused(view, `column ${key}`, 'the join key column is missing');
  }
  const eventMillis = columns.eventTimestamps.map((t, i) => {
    try {
      return toEpochMillis(t, 'event time');
    } catch (error) {
      throw refused(view, `row ${i}, event time`, (error as Error).message.replace(/^event time: /, ''));
    }
  });
  const size = Math.max(1, Math.floor(options.batchRows));
  const batches: WriteBatch[] = [];
  for (let start = 0; start < rowCount || (start === 0 && rowCount === 0); start += size) {
    const end = Math.min(rowCount, start + size);
    const out: Record<string, Column> = {};
    for (const [name, values] of Object.entries(columns.columns)) {
      const type = types.get(name) ?? 'string';
      const slice = values.slice(start, end);
      out[name] = typedColumn(
        type,
        type === 'timestamp' ? slice.map((v, i) => timestampValue(v, view, name, start + i)) : slice,
        view,
        name,
        start,
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

/** The column of `values` typed `type`; a value that does not fit is refused naming its row. */
function typedColumn(
  type: ValueType,
  values: readonly FeatureValue[],
  view: string,
  column: string,
  firstRow: number,
): Column {
  try {
    return toColumn(type, values);
  } catch {
    // Find the first value that does not fit, to name its row.
    const row = values.findIndex((value) => {
      try {
        toColumn(type, [value]);
        return false;
      } catch {
        return true;
      }
    });
    throw refused(
      view,
      `row ${firstRow + Math.max(row, 0)}, column ${column}`,
      `expected ${type}, got ${describeValue(values[Math.max(row, 0)])}`,
    );
  }
}

function timestampValue(value: FeatureValue, view: string, column: string, row: number): FeatureValue {
  if (value === null || value === undefined) return null;
  try {
    return toEpochMillis(value, 'value');
  } catch (error) {
    throw refused(view, `row ${row}, column ${column}`, (error as Error).message.replace(/^value: /, ''));
  }
}

function rowsToColumns(rows: readonly WriteRow[], eventField: string, view: string): WriteColumns {
  const names = new Set<string>();
  for (const row of rows) for (const name of Object.keys(row)) if (name !== eventField) names.add(name);
  const columns: Record<string, FeatureValue[]> = {};
  for (const name of names) columns[name] = rows.map((row) => (row[name] ?? null) as FeatureValue);
  const eventTimestamps = rows.map((row, i) => {
    const t = row[eventField];
    if (t === undefined || t === null) throw refused(view, `row ${i}`, `no event time (field ${eventField})`);
    return t as TimeInput;
  });
  return { columns, eventTimestamps };
}
