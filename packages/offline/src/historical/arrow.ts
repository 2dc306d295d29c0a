/**
 * Decoding of the query's ArrowStream result into training-set chunks: each ClickHouse record
 * batch is turned into the output columns (strings re-typed Binary → Utf8 without copying, lists
 * given a validity bitmap from their "no value" column, the row id and flags dropped), the row ids
 * are checked to run 0, 1, 2, … (a short or reordered result is an error, never a training set),
 * and the rows are cut into chunks of exactly `chunkRows` (the last may be shorter). Nothing holds
 * more than one chunk plus one ClickHouse block.
 */
import {
  Binary,
  Bool,
  Data,
  Field,
  Float32,
  Float64,
  Int64,
  List,
  makeData,
  RecordBatch,
  RecordBatchReader,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  TimestampMillisecond,
  Utf8,
  Vector,
  type DataType,
} from 'apache-arrow';
import { TesseraError, type FeatureValue, type TypedColumn, type ValueType } from '@tessera/core';
import type { OutputColumn } from './query.js';

// Note: a sliced Data's value buffers are already cut to the slice; only validity bitmaps go by
// `data.offset` (apache-arrow's Data.slice).

/** A run of output rows: one Data per output column. */
interface Piece {
  readonly firstRow: number;
  readonly length: number;
  readonly data: readonly Data[];
}

function internal(message: string): TesseraError {
  return new TesseraError('INTERNAL', `historical retrieval: ${message}`);
}

function validityFromFlags(flags: Data, length: number): { bitmap: Uint8Array; nullCount: number } {
  const values = flags.values as Uint8Array;
  const bitmap = new Uint8Array((length + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < length; i += 1) {
    if (values[i] === 0) bitmap[i >> 3] = (bitmap[i >> 3] as number) | (1 << (i & 7));
    else nullCount += 1;
  }
  return { bitmap, nullCount };
}

function asUtf8(data: Data): Data {
  return data.type instanceof Binary ? data.clone(new Utf8()) : data;
}

/** One output column of a ClickHouse batch. */
function outputData(batch: RecordBatch, column: OutputColumn): Data {
  const vector: Vector | null = batch.getChildAt(column.index);
  const data: Data | undefined = vector?.data[0];
  if (vector === null || data === undefined || vector.data.length !== 1) {
    throw internal(`result column ${column.index} (${column.name}) is missing`);
  }
  if (column.type === 'string') return asUtf8(data);
  if (column.nullFlagIndex === undefined) return data;
  const flagVector: Vector | null = batch.getChildAt(column.nullFlagIndex);
  const flags: Data | undefined = flagVector?.data[0];
  if (flags === undefined) throw internal(`result column ${column.nullFlagIndex} (${column.name} flags) is missing`);
  let child = data.children[0] as Data;
  if (column.type === 'string_list') child = asUtf8(child);
  const { bitmap, nullCount } = validityFromFlags(flags, data.length);
  return makeData({
    type: new List(new Field('item', child.type, true)),
    offset: 0,
    length: data.length,
    nullCount,
    nullBitmap: bitmap,
    valueOffsets: data.valueOffsets as Int32Array,
    child,
  } as never);
}

/** The Arrow type of an output column with no rows at all (an empty request). */
export function emptyType(type: ValueType): DataType {
  switch (type) {
    case 'int64':
      return new Int64();
    case 'double':
      return new Float64();
    case 'string':
      return new Utf8();
    case 'bool':
      return new Bool();
    case 'timestamp':
      return new TimestampMillisecond('UTC');
    case 'bytes':
      return new Binary();
    case 'float_list':
      return new List(new Field('item', new Float32(), true));
    case 'double_list':
      return new List(new Field('item', new Float64(), true));
    case 'int64_list':
      return new List(new Field('item', new Int64(), true));
    case 'string_list':
      return new List(new Field('item', new Utf8(), true));
  }
}

// ---------------------------------------------------------------- Arrow → FeatureValue

function copyList(value: unknown, type: ValueType): FeatureValue {
  const vector = value as Vector;
  const array = vector.toArray() as unknown;
  switch (type) {
    case 'float_list':
      return Float32Array.from(array as Float32Array);
    case 'double_list':
      return Float64Array.from(array as Float64Array);
    case 'int64_list':
      return BigInt64Array.from(array as BigInt64Array);
    default:
      return Array.from(array as Iterable<string>);
  }
}

function isValid(data: Data, i: number): boolean {
  const bitmap = data.nullBitmap;
  if (bitmap === undefined || bitmap === null || bitmap.length === 0 || data.nullCount === 0) return true;
  const bit = data.offset + i;
  return ((bitmap[bit >> 3] as number) & (1 << (bit & 7))) !== 0;
}

/** The values of one output column over `pieces`, as core FeatureValues. */
function featureValues(pieces: readonly Data[], type: ValueType, rowCount: number): FeatureValue[] {
  const out = new Array<FeatureValue>(rowCount);
  let at = 0;
  for (const data of pieces) {
    const n = data.length;
    if (type === 'double' || type === 'int64' || type === 'timestamp') {
      const values = data.values as Float64Array | BigInt64Array;
      for (let i = 0; i < n; i += 1) {
        if (!isValid(data, i)) out[at + i] = null;
        else {
          const v = values[i] as number | bigint;
          out[at + i] = type === 'timestamp' ? Number(v) : v;
        }
      }
    } else {
      const vector = new Vector([data]);
      for (let i = 0; i < n; i += 1) {
        const value = vector.get(i) as unknown;
        if (value === null || value === undefined) out[at + i] = null;
        else if (type === 'bytes') out[at + i] = Uint8Array.from(value as Uint8Array);
        else if (type === 'string' || type === 'bool') out[at + i] = value as string | boolean;
        else out[at + i] = copyList(value, type);
      }
    }
    at += n;
  }
  return out;
}

// ---------------------------------------------------------------- chunking

export interface ChunkOutput {
  readonly firstRow: number;
  readonly rowCount: number;
  readonly columns?: readonly TypedColumn[];
  readonly arrowIpc?: Uint8Array;
}

function encodeArrow(schema: Schema, pieces: readonly Piece[]): Uint8Array {
  const batches = pieces.map(
    (piece) =>
      new RecordBatch(
        schema,
        makeData({ type: new Struct(schema.fields), length: piece.length, nullCount: 0, children: [...piece.data] }),
      ),
  );
  const writer = new RecordBatchStreamWriter();
  writer.reset(undefined, schema);
  for (const batch of batches) writer.write(batch);
  writer.finish();
  return writer.toUint8Array(true);
}

function buildChunk(
  format: 'columns' | 'arrow',
  columns: readonly OutputColumn[],
  schema: Schema,
  pieces: readonly Piece[],
): ChunkOutput {
  const firstRow = pieces[0]?.firstRow ?? 0;
  const rowCount = pieces.reduce((sum, p) => sum + p.length, 0);
  if (format === 'arrow') return { firstRow, rowCount, arrowIpc: encodeArrow(schema, pieces) };
  return {
    firstRow,
    rowCount,
    columns: columns.map((column, c) => ({
      name: column.name,
      type: column.type,
      values: featureValues(
        pieces.map((p) => p.data[c] as Data),
        column.type,
        rowCount,
      ),
    })),
  };
}

/**
 * Reads the ArrowStream bytes of the query and yields chunks of `chunkRows` rows.
 * Throws INTERNAL when the result does not hold exactly the rows 0 … expectedRows-1 in order.
 */
export async function* decodeChunks(
  source: AsyncIterable<Uint8Array>,
  columns: readonly OutputColumn[],
  expectedRows: number,
  chunkRows: number,
  format: 'columns' | 'arrow',
): AsyncGenerator<ChunkOutput, void, undefined> {
  let schema: Schema | undefined;
  let pending: Piece[] = [];
  let pendingRows = 0;
  let nextRow = 0;
  // chDB's streamed ArrowStream is a sequence of complete IPC streams (schema, batch, end
  // marker) rather than one stream: read them all, one after the other.
  const iterator = source[Symbol.asyncIterator]();
  const bytes: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: () => iterator.next() }) };
  const readers = RecordBatchReader.readAll(bytes);
  try {
    for await (const reader of readers)
      for await (const batch of reader) {
        const length = batch.numRows;
        if (length === 0) continue;
        const ids = batch.getChildAt(0)?.data[0];
        if (ids === undefined) throw internal('the result has no row id column');
        const idValues = ids.values as BigUint64Array;
        for (let i = 0; i < length; i += 1) {
          if (idValues[i] !== BigInt(nextRow + i)) {
            throw internal(`row ${nextRow + i} of the result is out of order or missing`);
          }
        }
        const data = columns.map((column) => outputData(batch, column));
        schema ??= new Schema(data.map((d, c) => new Field((columns[c] as OutputColumn).name, d.type, true)));
        let piece: Piece = { firstRow: nextRow, length, data };
        nextRow += length;
        while (pendingRows + piece.length >= chunkRows) {
          const take = chunkRows - pendingRows;
          pending.push({ firstRow: piece.firstRow, length: take, data: piece.data.map((d) => d.slice(0, take)) });
          yield buildChunk(format, columns, schema, pending);
          pending = [];
          pendingRows = 0;
          const rest = piece.length - take;
          piece = { firstRow: piece.firstRow + take, length: rest, data: piece.data.map((d) => d.slice(take, rest)) };
        }
        if (piece.length > 0) {
          pending.push(piece);
          pendingRows += piece.length;
        }
      }
  } finally {
    // Ends the query when the caller stopped early or something failed (no-op after the end).
    await iterator.return?.().catch(() => undefined);
  }
  if (nextRow !== expectedRows) {
    throw internal(`the result has ${nextRow} rows, expected ${expectedRows}`);
  }
  if (pending.length > 0 && schema !== undefined) yield buildChunk(format, columns, schema, pending);
  if (expectedRows === 0) {
    const emptySchema = new Schema(columns.map((c) => new Field(c.name, emptyType(c.type), true)));
    yield format === 'arrow'
      ? { firstRow: 0, rowCount: 0, arrowIpc: encodeArrow(emptySchema, []) }
      : { firstRow: 0, rowCount: 0, columns: columns.map((c) => ({ name: c.name, type: c.type, values: [] })) };
  }
}
