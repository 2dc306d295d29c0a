import type { FeatureValue, ValueType } from '../model.js';
import { TesseraError } from '../errors.js';
import {
  LITTLE_ENDIAN_HOST,
  ROW_FORMAT_VERSION,
  ROW_HEADER_BYTES,
  asBuffer,
  malformedRow,
  readUtf8,
  toTypeCodes,
} from './row-format.js';
import type { TypeCode } from './row-format.js';
import { readVarint } from './varint.js';
import type { ByteCursor } from './varint.js';

const TWO_POW_32 = 0x1_0000_0000;
const TYPE_NAMES: readonly ValueType[] = [
  'int64',
  'double',
  'string',
  'bool',
  'timestamp',
  'bytes',
  'float_list',
  'double_list',
  'int64_list',
  'string_list',
];

/** The event timestamp (ms) of a packed row, from its header alone. */
export function readRowEventTs(row: Uint8Array): number {
  checkHeader(row);
  return asBuffer(row).readDoubleLE(1);
}

function checkHeader(row: Uint8Array): void {
  if (row.length < ROW_HEADER_BYTES) throw malformedRow(`${row.length} bytes, shorter than the 9-byte header`);
  if (row[0] !== ROW_FORMAT_VERSION) {
    throw malformedRow(`unknown row format version ${row[0]} (this server reads version ${ROW_FORMAT_VERSION})`);
  }
}

/**
 * Decodes chosen features of packed rows of one view version. Compile one per (view version,
 * wanted features) — e.g. once per request plan — and call {@link decodeInto} per row: it walks
 * the row once, skips unwanted features by their lengths, stops after the last wanted one, and
 * writes straight into the caller's columnar output. Not reentrant (decoding is synchronous).
 *
 * Features the row does not hold (appended to the view after the row was written) decode as null.
 * A row written by a newer schema (more features than `types`) decodes fine as long as the wanted
 * features are known. Malformed rows throw TesseraError INTERNAL naming the byte and feature.
 */
export class RowDecoder {
  /** Feature indexes this decoder returns, in output order. */
  readonly wanted: readonly number[];
  private readonly codes: TypeCode[];
  /** Output slot of each feature index, -1 when not wanted. */
  private readonly slotOfFeature: Int32Array;
  /** Feature indexes ≥ this are never read. */
  private readonly featureLimit: number;
  /** Pairs [slot, sourceSlot] for features wanted more than once. */
  private readonly repeatedSlots: readonly (readonly [number, number])[];
  private readonly cursor: ByteCursor = { pos: 0 };

  /**
   * @param types the view version's feature types, in storage order.
   * @param wanted feature indexes to decode, in the order of the output columns; any order, repeats allowed.
   */
  constructor(types: readonly ValueType[], wanted: readonly number[]) {
    this.codes = toTypeCodes(types);
    this.wanted = [...wanted];
    this.slotOfFeature = new Int32Array(types.length).fill(-1);
    const repeated: [number, number][] = [];
    let limit = 0;
    for (let slot = 0; slot < wanted.length; slot++) {
      const index = wanted[slot] as number;
      if (!Number.isInteger(index) || index < 0 || index >= types.length) {
        throw new TesseraError('INTERNAL', `Row codec: wanted feature ${index} is not in a schema of ${types.length}`);
      }
      const first = this.slotOfFeature[index] as number;
      if (first === -1) this.slotOfFeature[index] = slot;
      else repeated.push([slot, first]);
      limit = Math.max(limit, index + 1);
    }
    this.featureLimit = limit;
    this.repeatedSlots = repeated;
  }

  /**
   * Decodes the wanted features of `row` into `columns[j][rowIndex]` (j = position in `wanted`)
   * and returns the row's event timestamp in ms. `columns` must hold one array per wanted feature.
   */
  decodeInto(row: Uint8Array, columns: readonly FeatureValue[][], rowIndex: number): number {
    checkHeader(row);
    const buf = asBuffer(row);
    const end = buf.length;
    const eventTsMillis = buf.readDoubleLE(1);
    const cursor = this.cursor;
    cursor.pos = ROW_HEADER_BYTES;
    const n = readVarint(buf, cursor, end);
    if (n < 0) throw malformedRow(`truncated or invalid feature count at byte ${ROW_HEADER_BYTES}`);
    const bitmapStart = cursor.pos;
    // Division, not >> 3: a corrupt count near 2^32 must not wrap to a negative bitmap size.
    cursor.pos += Math.ceil(n / 8);
    if (cursor.pos > end) throw malformedRow(`null bitmap for ${n} features runs past the end (${end} bytes)`);

    const slotOfFeature = this.slotOfFeature;
    const limit = n < this.featureLimit ? n : this.featureLimit;
    for (let i = 0; i < limit; i++) {
      const slot = slotOfFeature[i] as number;
      if (((buf[bitmapStart + (i >> 3)] as number) & (1 << (i & 7))) !== 0) {
        if (slot >= 0) (columns[slot] as FeatureValue[])[rowIndex] = null;
      } else if (slot >= 0) {
        (columns[slot] as FeatureValue[])[rowIndex] = this.readValue(buf, end, this.codes[i] as TypeCode, i);
      } else {
        this.skipValue(buf, end, this.codes[i] as TypeCode, i);
      }
    }
    if (n < this.featureLimit) {
      // Features appended to the view after this row was written.
      for (let i = n; i < this.featureLimit; i++) {
        const slot = slotOfFeature[i] as number;
        if (slot >= 0) (columns[slot] as FeatureValue[])[rowIndex] = null;
      }
    }
    for (const [slot, source] of this.repeatedSlots) {
      (columns[slot] as FeatureValue[])[rowIndex] = (columns[source] as FeatureValue[])[rowIndex] ?? null;
    }
    return eventTsMillis;
  }

  /** Decodes the wanted features of one row into a new array (in `wanted` order). */
  decode(row: Uint8Array): FeatureValue[] {
    const columns: FeatureValue[][] = this.wanted.map(() => []);
    this.decodeInto(row, columns, 0);
    return columns.map((c) => c[0] ?? null);
  }

  private readValue(buf: Buffer, end: number, code: TypeCode, index: number): FeatureValue {
    const cursor = this.cursor;
    const pos = cursor.pos;
    switch (code) {
      case 0:
        this.need(pos, 8, end, index);
        cursor.pos = pos + 8;
        return buf.readBigInt64LE(pos);
      case 1:
        this.need(pos, 8, end, index);
        cursor.pos = pos + 8;
        return buf.readDoubleLE(pos);
      case 2: {
        const length = this.readLength(buf, end, index, 1);
        const start = cursor.pos;
        cursor.pos = start + length;
        return length === 0 ? '' : readUtf8(buf, start, start + length);
      }
      case 3: {
        this.need(pos, 1, end, index);
        const b = buf[pos] as number;
        if (b > 1) throw malformedRow(`bool feature ${index} holds byte ${b} at byte ${pos}`);
        cursor.pos = pos + 1;
        return b === 1;
      }
      case 4:
        this.need(pos, 8, end, index);
        cursor.pos = pos + 8;
        return buf.readInt32LE(pos + 4) * TWO_POW_32 + buf.readUInt32LE(pos);
      case 5: {
        const length = this.readLength(buf, end, index, 1);
        const start = cursor.pos;
        cursor.pos = start + length;
        // A plain copy: a view would pin the whole reply buffer for as long as the value lives.
        const bytes = new Uint8Array(length);
        bytes.set(buf.subarray(start, start + length));
        return bytes;
      }
      case 6: {
        const count = this.readLength(buf, end, index, 4);
        const list = new Float32Array(count);
        this.copyElements(buf, list, count * 4);
        return list;
      }
      case 7: {
        const count = this.readLength(buf, end, index, 8);
        const list = new Float64Array(count);
        this.copyElements(buf, list, count * 8);
        return list;
      }
      case 8: {
        const count = this.readLength(buf, end, index, 8);
        const list = new BigInt64Array(count);
        this.copyElements(buf, list, count * 8);
        return list;
      }
      case 9: {
        const count = this.readLength(buf, end, index, 1);
        const list = new Array<string>(count);
        for (let k = 0; k < count; k++) {
          const length = this.readLength(buf, end, index, 1);
          const start = cursor.pos;
          cursor.pos = start + length;
          list[k] = length === 0 ? '' : readUtf8(buf, start, start + length);
        }
        return list;
      }
    }
  }

  private skipValue(buf: Buffer, end: number, code: TypeCode, index: number): void {
    const cursor = this.cursor;
    switch (code) {
      case 0:
      case 1:
      case 4:
        this.need(cursor.pos, 8, end, index);
        cursor.pos += 8;
        return;
      case 3:
        this.need(cursor.pos, 1, end, index);
        cursor.pos += 1;
        return;
      case 2:
      case 5:
        this.skipBytes(this.readLength(buf, end, index, 1));
        return;
      case 6:
        this.skipBytes(this.readLength(buf, end, index, 4) * 4);
        return;
      case 7:
      case 8:
        this.skipBytes(this.readLength(buf, end, index, 8) * 8);
        return;
      case 9: {
        const count = this.readLength(buf, end, index, 1);
        for (let k = 0; k < count; k++) this.skipBytes(this.readLength(buf, end, index, 1));
        return;
      }
    }
  }

  /** Advances past bytes that `readLength` has checked are there (never `pos += readLength()`: that reads pos first). */
  private skipBytes(byteLength: number): void {
    this.cursor.pos += byteLength;
  }

  /** Reads a length or count and checks that `count × elementBytes` bytes follow it. */
  private readLength(buf: Buffer, end: number, index: number, elementBytes: number): number {
    const at = this.cursor.pos;
    // Most lengths fit one byte: skip the general varint reader for them.
    const first = at < end ? (buf[at] as number) : 0x80;
    let count: number;
    if (first < 0x80) {
      count = first;
      this.cursor.pos = at + 1;
    } else {
      count = readVarint(buf, this.cursor, end);
    }
    if (count < 0)
      throw malformedRow(
        `truncated or invalid length of feature ${index} (${TYPE_NAMES[this.codes[index] as TypeCode]}) at byte ${at}`,
      );
    this.need(this.cursor.pos, count * elementBytes, end, index);
    return count;
  }

  private need(pos: number, bytes: number, end: number, index: number): void {
    if (pos + bytes > end) {
      throw malformedRow(
        `truncated: feature ${index} (${TYPE_NAMES[this.codes[index] as TypeCode]}) needs ${bytes} bytes at byte ${pos}, row has ${end}`,
      );
    }
  }

  private copyElements(buf: Buffer, list: Float32Array | Float64Array | BigInt64Array, byteLength: number): void {
    const start = this.cursor.pos;
    this.cursor.pos = start + byteLength;
    if (LITTLE_ENDIAN_HOST) {
      // A byte copy: the list's own buffer is aligned, the row's offset may not be.
      new Uint8Array(list.buffer, list.byteOffset, byteLength).set(buf.subarray(start, start + byteLength));
      return;
    }
    const view = new DataView(buf.buffer, buf.byteOffset + start, byteLength);
    if (list instanceof Float32Array) for (let k = 0; k < list.length; k++) list[k] = view.getFloat32(k * 4, true);
    else if (list instanceof Float64Array) for (let k = 0; k < list.length; k++) list[k] = view.getFloat64(k * 8, true);
    else for (let k = 0; k < list.length; k++) list[k] = view.getBigInt64(k * 8, true);
  }
}

/** Decodes chosen features of one row with a throwaway decoder. Prefer one {@link RowDecoder} per plan. */
export function decodeRow(types: readonly ValueType[], row: Uint8Array, wanted: readonly number[]): FeatureValue[] {
  return new RowDecoder(types, wanted).decode(row);
}
