/**
 * A streaming reader of ClickHouse `RowBinary` for the types of Tessera's offline tables: exact for
 * every value (doubles bit for bit, int64 as bigint, bytes as bytes) and fed chunk by chunk, so a
 * result of any size is read with the memory of one chunk plus one row.
 */
import { TesseraError, type FeatureValue, type JoinKeyType, type OfflineRow, type ValueType } from '@tessera/core';

/** Thrown inside a read when the row runs past the bytes received so far (one instance: no stack per throw). */
const INCOMPLETE = new Error('RowBinary: incomplete row');

class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw INCOMPLETE;
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
    }
  }
  i64(): bigint {
    this.need(8);
    const value = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return value;
  }
  f64(): number {
    this.need(8);
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }
  f32(): number {
    this.need(4);
    const value = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return value;
  }
  bytes(): Buffer {
    const length = this.varint();
    this.need(length);
    const value = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }
}

type Read<T> = (c: Cursor) => T;

const readString: Read<string> = (c) => c.bytes().toString('utf8');
const readBytes: Read<Uint8Array> = (c) => Uint8Array.from(c.bytes());

function nullable<T>(read: Read<T>): Read<T | null> {
  return (c) => (c.u8() === 1 ? null : read(c));
}

function array<T>(read: Read<T>): Read<T[]> {
  return (c) => {
    const n = c.varint();
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = read(c);
    return out;
  };
}

/** Reads a scalar feature column (`Nullable(T)`) of `type`. */
function scalarReader(type: ValueType): Read<FeatureValue> {
  switch (type) {
    case 'int64':
      return nullable((c) => c.i64());
    case 'double':
      return nullable((c) => c.f64());
    case 'string':
      return nullable(readString);
    case 'bool':
      return nullable((c) => c.u8() !== 0);
    case 'timestamp':
      return nullable((c) => Number(c.i64()));
    case 'bytes':
      return nullable(readBytes);
    default:
      throw new TesseraError('INTERNAL', `RowBinary: ${type} is not a scalar type`);
  }
}

/** Reads a list feature (`Array(T)` then its `UInt8` no-value flag). */
function listReader(type: ValueType): Read<FeatureValue> {
  let read: Read<FeatureValue>;
  switch (type) {
    case 'float_list':
      read = (c) => Float32Array.from(array((x) => x.f32())(c));
      break;
    case 'double_list':
      read = (c) => Float64Array.from(array((x) => x.f64())(c));
      break;
    case 'int64_list':
      read = (c) => BigInt64Array.from(array((x) => x.i64())(c));
      break;
    case 'string_list':
      read = array(readString);
      break;
    default:
      throw new TesseraError('INTERNAL', `RowBinary: ${type} is not a list type`);
  }
  return (c) => {
    const value = read(c);
    return c.u8() === 1 ? null : value;
  };
}

/**
 * Decodes RowBinary rows of `keys…, event_ts (DateTime64(3)), features…` (each list feature followed
 * by its no-value flag) from `chunks`, yielding them in batches of at most `batchRows`.
 */
export async function* readOfflineRows(
  chunks: AsyncIterable<Uint8Array>,
  keyTypes: readonly JoinKeyType[],
  featureTypes: readonly ValueType[],
  batchRows: number,
): AsyncGenerator<OfflineRow[], void, undefined> {
  const keyReaders = keyTypes.map((type): Read<bigint | string> => (type === 'int64' ? (c) => c.i64() : readString));
  const featureReaders = featureTypes.map((type) => (type.endsWith('_list') ? listReader(type) : scalarReader(type)));
  let pending: Buffer = Buffer.alloc(0);
  let batch: OfflineRow[] = [];
  for await (const chunk of chunks) {
    const cursor = new Cursor(pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]));
    for (;;) {
      const start = cursor.pos;
      if (start === cursor.buf.length) break;
      try {
        const keys = keyReaders.map((read) => read(cursor));
        const eventTsMillis = Number(cursor.i64());
        const features = featureReaders.map((read) => read(cursor));
        batch.push({ keys, eventTsMillis, features });
      } catch (error) {
        if (error !== INCOMPLETE) throw error;
        cursor.pos = start;
        break;
      }
      if (batch.length >= batchRows) {
        yield batch;
        batch = [];
      }
    }
    // Copied: the rest must not keep the whole chunk alive.
    pending = Buffer.from(cursor.buf.subarray(cursor.pos));
  }
  if (pending.length > 0) {
    throw new TesseraError('INTERNAL', `RowBinary: the result ended inside a row (${pending.length} bytes left)`);
  }
  if (batch.length > 0) yield batch;
}
