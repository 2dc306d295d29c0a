import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { JSONParse } from 'json-with-bigint';
import { TIMESTAMP_FORMATS_HINT, TesseraError, parseTimestamp } from '@tessera/core/basics';
import type { FeatureValue, RegisteredView, ValueType } from '@tessera/core/basics';
import { toColumn } from '@tessera/wire';
import { readParquetFile } from './parquet.js';
import type { Column } from '@tessera/proto';

export { DEFAULT_TIMESTAMP_COLUMN } from './command-options.js';

export interface RowBatch {
  readonly columns: Record<string, Column>;
  readonly eventTimestamps: Column;
  readonly rows: number;
  /** 1-based line/record number of the batch's first row in the file. */
  readonly firstRecord: number;
}

type Cell = unknown;

/**
 * Reads a CSV (header row) or JSONL file into typed columnar batches for one view. Cells are
 * converted by the view's schema; a cell that cannot be converted stops the read with an error
 * naming the file, record and column, before anything is sent.
 */
export async function* readRowBatches(
  path: string,
  view: RegisteredView,
  options: { batchRows: number; timestampColumn: string },
): AsyncGenerator<RowBatch> {
  const types = new Map<string, ValueType>();
  for (const key of view.joinKeys) types.set(key.name, key.type);
  for (const feature of view.features) types.set(feature.name, feature.type);
  const records =
    path.endsWith('.jsonl') || path.endsWith('.ndjson')
      ? readJsonl(path)
      : path.endsWith('.csv')
        ? readCsv(path)
        : path.endsWith('.parquet')
          ? readParquetRecords(path)
          : undefined;
  if (!records)
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${path}: unsupported file type; use .csv (with a header row), .jsonl or .parquet`,
    );

  let pending: { record: Record<string, Cell>; number: number }[] = [];
  const flush = (): RowBatch => {
    const names = new Set<string>();
    for (const { record } of pending) for (const name of Object.keys(record)) names.add(name);
    const columns: Record<string, Column> = {};
    const timestamps: number[] = [];
    for (const { record, number } of pending) {
      const raw = record[options.timestampColumn];
      const missing = raw === undefined || raw === null || raw === '';
      const ts = missing ? undefined : timestampOf(raw);
      if (ts === undefined) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `${path}: record ${number}, column ${options.timestampColumn}: ${missing ? 'missing event timestamp' : `${quoteCell(raw)} is not a timestamp: use ${TIMESTAMP_FORMATS_HINT}`}`,
        );
      }
      timestamps.push(ts);
    }
    for (const name of names) {
      if (name === options.timestampColumn) continue;
      const type = types.get(name);
      if (!type) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `${path}: column ${name} is neither a join key nor a feature of ${view.name}@${view.version} (it has: ${[...types.keys()].join(', ')})`,
        );
      }
      const values = pending.map(({ record, number }) =>
        convertCell(record[name], type, () => `${path}: record ${number}, column ${name}`),
      );
      columns[name] = toColumn(type, values);
    }
    const batch = {
      columns,
      eventTimestamps: toColumn('timestamp', timestamps),
      rows: pending.length,
      firstRecord: pending[0]?.number ?? 0,
    };
    pending = [];
    return batch;
  };
  for await (const item of records) {
    pending.push(item);
    if (pending.length >= options.batchRows) yield flush();
  }
  if (pending.length > 0) yield flush();
}

async function* readCsv(path: string): AsyncGenerator<{ record: Record<string, Cell>; number: number }> {
  const parser = createReadStream(path).pipe(parse({ columns: true, skip_empty_lines: true, trim: true }));
  let number = 1;
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    number++;
    yield { record, number };
  }
}

/** Parquet rows as records: Arrow values (bigint, numbers, Dates, lists) go through the same conversion. */
async function* readParquetRecords(path: string): AsyncGenerator<{ record: Record<string, Cell>; number: number }> {
  const table = await readParquetFile(path);
  const names = table.schema.fields.map((f) => f.name);
  const vectors = names.map((_, c) => table.getChildAt(c)!);
  for (let i = 0; i < table.numRows; i++) {
    const record: Record<string, Cell> = {};
    names.forEach((name, c) => {
      const v: unknown = vectors[c]!.get(i);
      record[name] =
        v instanceof Date
          ? v.getTime()
          : v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && Symbol.iterator in v
            ? Array.from(v as Iterable<unknown>, (x) => (typeof x === 'bigint' ? x.toString() : x))
            : v;
    });
    yield { record, number: i };
  }
}

async function* readJsonl(path: string): AsyncGenerator<{ record: Record<string, Cell>; number: number }> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    let record: unknown;
    try {
      // Integers beyond 2^53 come back as bigint, exact (JSON.parse would round them).
      record = JSONParse(line);
    } catch (error) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `${path}: line ${number}: not valid JSON (${(error as Error).message})`,
      );
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new TesseraError('INVALID_ARGUMENT', `${path}: line ${number}: expected a JSON object per line`);
    }
    yield { record: record as Record<string, Cell>, number };
  }
}

/** Converts one CSV string or JSON value to the in-memory value of a type; '' and null are null. */
export function convertCell(cell: Cell, type: ValueType, where: () => string): FeatureValue {
  if (cell === undefined || cell === null || cell === '') return null;
  const fail = (expected: string): never => {
    throw new TesseraError('INVALID_ARGUMENT', `${where()}: ${quoteCell(cell)} is not ${expected}`);
  };
  const int64 = (value: unknown, what: string): bigint => {
    if (typeof value === 'bigint') return inInt64Range(value) ? value : fail(`${what} (out of the int64 range)`);
    if (typeof value === 'number') {
      // A JSON number that is not an exact integer literal (1.0e20, 9007199254740993.0) was
      // already rounded when it was read: refused rather than stored wrong.
      if (!Number.isInteger(value)) return fail(what);
      return Number.isSafeInteger(value)
        ? BigInt(value)
        : fail(`${what} exactly (beyond 2^53 it must be written as an integer literal or a string)`);
    }
    const s = cellText(value).trim();
    if (!/^-?\d+$/.test(s)) return fail(what);
    const n = BigInt(s);
    return inInt64Range(n) ? n : fail(`${what} (out of the int64 range)`);
  };
  // JSONL cells may be objects; they then fail every scalar rule, naming what they were.
  const text = cellText(cell);
  const list = (): unknown[] => {
    let value: unknown = cell;
    if (typeof value === 'string') {
      try {
        value = JSONParse(value) as unknown;
      } catch {
        return fail(`a ${type} (write lists as JSON arrays, e.g. [0.1, 0.2])`);
      }
    }
    return Array.isArray(value) ? value : fail(`a ${type} (a JSON array)`);
  };
  switch (type) {
    case 'int64':
      return int64(cell, 'an int64');
    case 'double': {
      if (typeof cell === 'number') return cell;
      if (typeof cell === 'bigint') return Number(cell);
      const s = text.trim();
      const n = s === 'NaN' ? NaN : Number(s);
      return Number.isNaN(n) && s !== 'NaN' ? fail('a double') : n;
    }
    case 'string':
      return text;
    case 'bool': {
      const s = text.trim().toLowerCase();
      return s === 'true' || s === '1' ? true : s === 'false' || s === '0' ? false : fail('a bool (true/false)');
    }
    case 'timestamp':
      return timestampOf(cell) ?? fail(`a timestamp: use ${TIMESTAMP_FORMATS_HINT}`);
    case 'bytes':
      return typeof cell === 'string' ? new Uint8Array(Buffer.from(cell, 'base64')) : fail('bytes (base64)');
    case 'float_list':
      return Float32Array.from(list().map((x) => numberOf(x) ?? fail(`a ${type} of numbers`)));
    case 'double_list':
      return Float64Array.from(list().map((x) => numberOf(x) ?? fail(`a ${type} of numbers`)));
    case 'int64_list':
      return BigInt64Array.from(list().map((x) => int64(x, `a ${type} of integers`)));
    case 'string_list':
      return list().map((x) => (typeof x === 'string' ? x : fail(`a ${type} of strings`)));
  }
}

/** A cell as text: scalars as written, anything else (JSONL objects) as JSON. */
function cellText(cell: unknown): string {
  switch (typeof cell) {
    case 'string':
      return cell;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${cell}`;
    default:
      return JSON.stringify(cell) ?? '';
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function inInt64Range(n: bigint): boolean {
  return n >= INT64_MIN && n <= INT64_MAX;
}

function numberOf(x: unknown): number | undefined {
  return typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : undefined;
}

/**
 * A time cell: RFC 3339 or a date as text, or integer epoch milliseconds — as a JSON number or
 * bigint, or as text of digits (every CSV cell is text).
 */
export function timestampOf(cell: unknown): number | undefined {
  if (typeof cell === 'number' || typeof cell === 'bigint') return parseTimestamp(cell);
  if (typeof cell !== 'string') return undefined;
  const s = cell.trim();
  return /^-?\d+$/.test(s) ? parseTimestamp(BigInt(s)) : parseTimestamp(s);
}

/** A cell as quoted in an error message: at most 200 characters, then its length. */
export function quoteCell(cell: unknown): string {
  const text = typeof cell === 'bigint' ? cell.toString() : (JSON.stringify(cell) ?? String(cell));
  return text.length > 200 ? `${text.slice(0, 200)}… (${text.length} characters)` : text;
}
