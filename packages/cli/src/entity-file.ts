import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { DataType, Precision } from 'apache-arrow';
import type { Field, Vector } from 'apache-arrow';
import { TIMESTAMP_FORMATS_HINT, TesseraError } from '@tessera/core/basics';
import type { FeatureValue, JoinKeyType, TypedColumn, ValueType } from '@tessera/core';
import { convertCell, quoteCell, timestampOf } from './read-rows.js';
import { readParquetFile } from './parquet.js';

/** Entity rows of a training set, as read from a file. */
export interface EntityFile {
  /** Join key columns (the columns named like a registered join key). */
  readonly keys: TypedColumn[];
  readonly eventTsMillis: number[];
  /** Every other column, passed through to the output unchanged (labels). */
  readonly passthrough: TypedColumn[];
  /** Column names in the file's order. */
  readonly columnOrder: string[];
}

export interface EntityFileOptions {
  readonly timestampColumn: string;
  readonly joinKeyTypes: ReadonlyMap<string, JoinKeyType>;
  /** Request fields of on-demand views: CSV columns of these names are read as their type. */
  readonly requestFieldTypes?: ReadonlyMap<string, ValueType>;
}

/** Reads entity rows from CSV (header row) or Parquet. */
export async function readEntityFile(path: string, options: EntityFileOptions): Promise<EntityFile> {
  const raw = path.endsWith('.parquet')
    ? await readParquetColumns(path)
    : path.endsWith('.csv')
      ? await readCsvColumns(path)
      : undefined;
  if (!raw)
    throw new TesseraError('INVALID_ARGUMENT', `--entities ${path}: use a .csv (with a header row) or .parquet file`);
  const timestamps = raw.find((c) => c.name === options.timestampColumn);
  if (!timestamps) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${path}: no ${options.timestampColumn} column (the moment each row asks about); columns: ${raw.map((c) => c.name).join(', ')}`,
    );
  }
  const eventTsMillis = timestamps.values.map((v, i) => {
    const missing = v === null || v === undefined || (typeof v === 'string' && v.trim() === '');
    const ms = v instanceof Date ? v.getTime() : missing ? undefined : timestampOf(v);
    if (ms === undefined) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `${path}: row ${i}, column ${options.timestampColumn}: ${missing ? 'missing timestamp' : `${quoteCell(v)} is not a timestamp: use ${TIMESTAMP_FORMATS_HINT}`}`,
      );
    }
    return ms;
  });
  const keys: TypedColumn[] = [];
  const passthrough: TypedColumn[] = [];
  for (const column of raw) {
    if (column.name === options.timestampColumn) continue;
    const keyType = options.joinKeyTypes.get(column.name);
    if (keyType) {
      keys.push({
        name: column.name,
        type: keyType,
        values: column.values.map((v, i) => {
          const value = convertCell(
            typeof v === 'bigint' ? v.toString() : typeof v === 'string' ? v.trim() : v,
            keyType,
            () => `${path}: row ${i}, column ${column.name}`,
          );
          if (value === null)
            throw new TesseraError(
              'INVALID_ARGUMENT',
              `${path}: row ${i}, column ${column.name}: join keys cannot be empty`,
            );
          return value;
        }),
      });
    } else if (column.type === undefined && options.requestFieldTypes?.has(column.name) === true) {
      const type = options.requestFieldTypes.get(column.name)!;
      passthrough.push({
        name: column.name,
        type,
        values: column.values.map((v, i) =>
          convertCell(
            typeof v === 'string' ? v.trim() : (v as string),
            type,
            () => `${path}: row ${i}, column ${column.name}`,
          ),
        ),
      });
    } else {
      // Labels pass through as they are: typed as the Parquet file declares them, and from CSV
      // as strings, byte for byte — never guessed (a ZIP code 02139 or a 20-digit id stays itself).
      const type = column.type ?? 'string';
      passthrough.push({ name: column.name, type, values: normalise(column.values, type) });
    }
  }
  if (keys.length === 0) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${path}: no join key column; expected one of ${[...options.joinKeyTypes.keys()].join(', ')}`,
    );
  }
  return { keys, eventTsMillis, passthrough, columnOrder: raw.map((c) => c.name) };
}

interface RawColumn {
  readonly name: string;
  /** Known from Parquet; undefined for CSV (every cell is text). */
  readonly type?: ValueType | undefined;
  readonly values: unknown[];
}

async function readCsvColumns(path: string): Promise<RawColumn[]> {
  // Cells untrimmed (labels are kept byte for byte; keys and times are trimmed where they are read);
  // header names trimmed and a UTF-8 byte-order mark dropped.
  const parser = createReadStream(path).pipe(
    parse({ columns: (header: string[]) => header.map((name) => name.trim()), bom: true, skip_empty_lines: true }),
  );
  const columns = new Map<string, unknown[]>();
  let row = 0;
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    for (const [name, value] of Object.entries(record)) {
      let values = columns.get(name);
      if (!values) columns.set(name, (values = new Array<unknown>(row).fill('')));
      values.push(value);
    }
    row++;
  }
  return [...columns].map(([name, values]) => ({ name, values }));
}

/** Label cells as values of `type`; an empty cell is null. */
function normalise(values: readonly unknown[], type: ValueType): FeatureValue[] {
  return values.map((v, i) =>
    v === '' || v === undefined
      ? null
      : type === 'string' && typeof v === 'string'
        ? v
        : convertCell(v instanceof Date ? v.getTime() : v, type, () => `row ${i}`),
  );
}

async function readParquetColumns(path: string): Promise<RawColumn[]> {
  const table = await readParquetFile(path);
  return table.schema.fields.map((field, c) => {
    const vector = table.getChildAt(c)!;
    return { name: field.name, type: arrowValueType(field), values: vectorValues(vector) };
  });
}

function vectorValues(vector: Vector): unknown[] {
  const out = new Array<unknown>(vector.length);
  for (let i = 0; i < vector.length; i++) {
    const v: unknown = vector.get(i);
    out[i] =
      v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof Date) && Symbol.iterator in v
        ? Array.from(v as Iterable<unknown>)
        : v;
  }
  return out;
}

function arrowValueType(field: Field): ValueType | undefined {
  const type: DataType = field.type as DataType;
  if (DataType.isInt(type)) return 'int64';
  if (DataType.isFloat(type)) return 'double';
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type)) return 'string';
  if (DataType.isBool(type)) return 'bool';
  if (DataType.isTimestamp(type) || DataType.isDate(type)) return 'timestamp';
  if (DataType.isBinary(type) || DataType.isLargeBinary(type)) return 'bytes';
  if (DataType.isList(type)) {
    const children: Field[] = type.children;
    const child = children[0]?.type as DataType | undefined;
    if (child && DataType.isFloat(child)) return child.precision === Precision.SINGLE ? 'float_list' : 'double_list';
    if (child && DataType.isInt(child)) return 'int64_list';
    if (child && DataType.isUtf8(child)) return 'string_list';
  }
  return undefined;
}
