import type { FeatureValue, ValueType } from '../model.js';
import { TesseraError } from '../errors.js';
import { LITTLE_ENDIAN_HOST, ROW_FORMAT_VERSION, ROW_HEADER_BYTES, toTypeCodes } from './row-format.js';
import type { TypeCode } from './row-format.js';
import { MAX_VARINT_VALUE, varintByteLength, writeVarint } from './varint.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TWO_POW_32 = 0x1_0000_0000;

/**
 * Encodes packed rows of one view version (layout in `row-format.ts`). Build one per view and
 * reuse it: it keeps a scratch array of string byte lengths between the sizing and the writing
 * pass, so encoding a row allocates only the row itself. Not reentrant (encoding is synchronous).
 *
 * Values must be in their in-memory representation (see `FeatureValue`), as produced by
 * `validateWriteBatch`; anything else is a bug and throws TesseraError INTERNAL.
 */
export class RowEncoder {
  private readonly codes: TypeCode[];
  private readonly types: readonly ValueType[];
  private readonly stringByteLengths: number[] = [];
  private stringCount = 0;

  constructor(types: readonly ValueType[]) {
    this.types = [...types];
    this.codes = toTypeCodes(types);
  }

  /**
   * Encodes one row. `values[i]` is feature i of the view (null = no value). Returns a Node
   * Buffer (a Uint8Array that Redis and LMDB clients send as-is); small rows share Node's
   * buffer pool, so use `byteOffset`/`byteLength`, never `.buffer` alone.
   */
  encode(eventTsMillis: number, values: readonly FeatureValue[]): Buffer {
    const n = this.codes.length;
    if (values.length !== n) {
      throw new TesseraError('INTERNAL', `Row codec: ${values.length} values for a schema of ${n} features`);
    }
    if (!Number.isFinite(eventTsMillis)) {
      throw new TesseraError('INTERNAL', `Row codec: event timestamp ${eventTsMillis} is not a finite number`);
    }
    const bitmapStart = ROW_HEADER_BYTES + varintByteLength(n);
    const bitmapBytes = Math.ceil(n / 8);
    let size = bitmapStart + bitmapBytes;
    this.stringCount = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v !== null && v !== undefined) size += this.sizeValue(this.codes[i] as TypeCode, v, i);
    }

    const buf = Buffer.allocUnsafe(size);
    buf[0] = ROW_FORMAT_VERSION;
    buf.writeDoubleLE(eventTsMillis, 1);
    writeVarint(buf, ROW_HEADER_BYTES, n);
    buf.fill(0, bitmapStart, bitmapStart + bitmapBytes);
    let pos = bitmapStart + bitmapBytes;
    this.stringCount = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        const at = bitmapStart + (i >> 3);
        buf[at] = (buf[at] as number) | (1 << (i & 7));
      } else {
        pos = this.writeValue(buf, pos, this.codes[i] as TypeCode, v);
      }
    }
    return buf;
  }

  /** Bytes the value takes; checks its representation (the writing pass then trusts it). */
  private sizeValue(code: TypeCode, v: NonNullable<FeatureValue>, index: number): number {
    switch (code) {
      case 0:
        if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) throw this.wrongValue(index, v);
        return 8;
      case 1:
        if (typeof v !== 'number') throw this.wrongValue(index, v);
        return 8;
      case 2:
        if (typeof v !== 'string') throw this.wrongValue(index, v);
        return this.sizeString(v);
      case 3:
        if (typeof v !== 'boolean') throw this.wrongValue(index, v);
        return 1;
      case 4:
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw this.wrongValue(index, v);
        return 8;
      case 5:
        if (!(v instanceof Uint8Array)) throw this.wrongValue(index, v);
        return this.sizeLength(v.length) + v.length;
      case 6:
        if (!(v instanceof Float32Array)) throw this.wrongValue(index, v);
        return this.sizeLength(v.length) + v.length * 4;
      case 7:
        if (!(v instanceof Float64Array)) throw this.wrongValue(index, v);
        return this.sizeLength(v.length) + v.length * 8;
      case 8:
        if (!(v instanceof BigInt64Array)) throw this.wrongValue(index, v);
        return this.sizeLength(v.length) + v.length * 8;
      case 9: {
        if (!Array.isArray(v)) throw this.wrongValue(index, v);
        let size = this.sizeLength(v.length);
        for (const s of v as readonly unknown[]) {
          if (typeof s !== 'string') throw this.wrongValue(index, v);
          size += this.sizeString(s);
        }
        return size;
      }
    }
  }

  private sizeString(s: string): number {
    const byteLength = Buffer.byteLength(s, 'utf8');
    this.stringByteLengths[this.stringCount++] = byteLength;
    return this.sizeLength(byteLength) + byteLength;
  }

  private sizeLength(length: number): number {
    if (length > MAX_VARINT_VALUE) throw new TesseraError('INTERNAL', `Row codec: length ${length} is too large`);
    return varintByteLength(length);
  }

  private writeValue(buf: Buffer, pos: number, code: TypeCode, v: NonNullable<FeatureValue>): number {
    switch (code) {
      case 0:
        buf.writeBigInt64LE(v as bigint, pos);
        return pos + 8;
      case 1:
        buf.writeDoubleLE(v as number, pos);
        return pos + 8;
      case 2:
        return this.writeString(buf, pos, v as string);
      case 3:
        buf[pos] = v === true ? 1 : 0;
        return pos + 1;
      case 4: {
        // Two 32-bit halves instead of a BigInt: exact for every safe integer, no allocation.
        const ms = v as number;
        const high = Math.floor(ms / TWO_POW_32);
        buf.writeUInt32LE(ms - high * TWO_POW_32, pos);
        buf.writeInt32LE(high, pos + 4);
        return pos + 8;
      }
      case 5: {
        const bytes = v as Uint8Array;
        pos = writeVarint(buf, pos, bytes.length);
        buf.set(bytes, pos);
        return pos + bytes.length;
      }
      case 6: {
        const list = v as Float32Array;
        pos = writeVarint(buf, pos, list.length);
        if (LITTLE_ENDIAN_HOST) return copyElements(buf, pos, list);
        for (const x of list) pos = buf.writeFloatLE(x, pos);
        return pos;
      }
      case 7: {
        const list = v as Float64Array;
        pos = writeVarint(buf, pos, list.length);
        if (LITTLE_ENDIAN_HOST) return copyElements(buf, pos, list);
        for (const x of list) pos = buf.writeDoubleLE(x, pos);
        return pos;
      }
      case 8: {
        const list = v as BigInt64Array;
        pos = writeVarint(buf, pos, list.length);
        if (LITTLE_ENDIAN_HOST) return copyElements(buf, pos, list);
        for (const x of list) pos = buf.writeBigInt64LE(x, pos);
        return pos;
      }
      case 9: {
        const list = v as readonly string[];
        pos = writeVarint(buf, pos, list.length);
        for (const s of list) pos = this.writeString(buf, pos, s);
        return pos;
      }
    }
  }

  private writeString(buf: Buffer, pos: number, s: string): number {
    const byteLength = this.stringByteLengths[this.stringCount++] as number;
    pos = writeVarint(buf, pos, byteLength);
    if (byteLength > 0) buf.write(s, pos, byteLength, 'utf8');
    return pos + byteLength;
  }

  private wrongValue(index: number, v: unknown): TesseraError {
    const got = v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
    return new TesseraError(
      'INTERNAL',
      `Row codec: feature ${index} (${this.types[index]}) cannot hold a ${got}; values must be validated first`,
    );
  }
}

function copyElements(buf: Buffer, pos: number, list: Float32Array | Float64Array | BigInt64Array): number {
  buf.set(new Uint8Array(list.buffer, list.byteOffset, list.byteLength), pos);
  return pos + list.byteLength;
}

/** Encodes one row with a throwaway encoder. Prefer one {@link RowEncoder} per view on hot paths. */
export function encodeRow(types: readonly ValueType[], eventTsMillis: number, values: readonly FeatureValue[]): Buffer {
  return new RowEncoder(types).encode(eventTsMillis, values);
}
