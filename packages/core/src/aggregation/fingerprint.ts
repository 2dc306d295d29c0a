/**
 * Event identity (design §1.2): `fp` = the first 16 bytes of SHA-256 over the event's canonical
 * bytes. Two rows with the same view, entity, event time and values are one event, however many
 * times and by whatever requests they arrive.
 *
 * Canonical bytes, all little-endian:
 *   u32 view id, u32 view version, u32 length + UTF-8 of the entity key (`entityKey` encoding),
 *   f64 event ts, then per feature in storage order `u8 0` (null) or `u8 1` + the value:
 *   int64 8 B two's complement; double f64; string and bytes `u32 length` + bytes; bool `u8` 0/1;
 *   timestamp f64; lists `u32 count` + elements (float_list f32, double_list f64, int64_list 8 B,
 *   string_list `u32 length` + UTF-8 each).
 * Doubles and floats write −0 as +0 and every NaN as the one quiet NaN (0x7ff8000000000000 /
 * 0x7fc00000), so values that compare equal in SQL give one fp.
 */

import { createHash } from 'node:crypto';
import type { FeatureValue, ValueType } from '../model.js';
import { TesseraError } from '../errors.js';

/** Bytes of an event fingerprint. */
export const FINGERPRINT_BYTES = 16;

const INITIAL_BYTES = 256;

/**
 * Computes fingerprints of one view version. Build one per view version and reuse it: it keeps
 * one growing scratch buffer, so a fingerprint allocates only the hash and its 16-byte result.
 * Not reentrant (synchronous).
 */
export class FingerprintEncoder {
  private readonly types: readonly ValueType[];
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private pos = 0;

  constructor(
    private readonly viewId: number,
    private readonly viewVersion: number,
    types: readonly ValueType[],
  ) {
    this.types = [...types];
  }

  /** The canonical bytes of one event (a view of the scratch buffer: copy it to keep it). */
  canonicalBytes(entityKey: string, eventTsMillis: number, values: readonly FeatureValue[]): Buffer {
    if (values.length !== this.types.length) {
      throw new TesseraError(
        'INTERNAL',
        `Fingerprint: ${values.length} values for a schema of ${this.types.length} features`,
      );
    }
    this.pos = 0;
    this.u32(this.viewId);
    this.u32(this.viewVersion);
    this.string(entityKey);
    this.f64(eventTsMillis);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        this.u8(0);
      } else {
        this.u8(1);
        this.value(this.types[i] as ValueType, v, i);
      }
    }
    return this.buf.subarray(0, this.pos);
  }

  /** The event's fingerprint: the first 16 bytes of SHA-256 of its canonical bytes. */
  fingerprint(entityKey: string, eventTsMillis: number, values: readonly FeatureValue[]): Uint8Array {
    const digest = createHash('sha256')
      .update(this.canonicalBytes(entityKey, eventTsMillis, values))
      .digest();
    return digest.subarray(0, FINGERPRINT_BYTES);
  }

  private value(type: ValueType, v: NonNullable<FeatureValue>, index: number): void {
    switch (type) {
      case 'int64':
        if (typeof v !== 'bigint') throw wrong(index, type);
        this.i64(v);
        return;
      case 'double':
      case 'timestamp':
        if (typeof v !== 'number') throw wrong(index, type);
        this.f64(v);
        return;
      case 'string':
        if (typeof v !== 'string') throw wrong(index, type);
        this.string(v);
        return;
      case 'bytes':
        if (!(v instanceof Uint8Array)) throw wrong(index, type);
        this.u32(v.byteLength);
        this.raw(v);
        return;
      case 'bool':
        if (typeof v !== 'boolean') throw wrong(index, type);
        this.u8(v ? 1 : 0);
        return;
      case 'float_list':
        if (!(v instanceof Float32Array)) throw wrong(index, type);
        this.u32(v.length);
        for (const x of v) this.f32(x);
        return;
      case 'double_list':
        if (!(v instanceof Float64Array)) throw wrong(index, type);
        this.u32(v.length);
        for (const x of v) this.f64(x);
        return;
      case 'int64_list':
        if (!(v instanceof BigInt64Array)) throw wrong(index, type);
        this.u32(v.length);
        for (const x of v) this.i64(x);
        return;
      case 'string_list':
        if (!Array.isArray(v)) throw wrong(index, type);
        this.u32(v.length);
        for (const s of v as readonly string[]) this.string(s);
        return;
    }
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private u8(x: number): void {
    this.ensure(1);
    this.buf[this.pos++] = x;
  }

  private u32(x: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(x, this.pos);
    this.pos += 4;
  }

  private i64(x: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64LE(x, this.pos);
    this.pos += 8;
  }

  private f64(x: number): void {
    this.ensure(8);
    if (Number.isNaN(x)) {
      this.buf.writeUInt32LE(0, this.pos);
      this.buf.writeUInt32LE(0x7ff80000, this.pos + 4);
    } else {
      this.buf.writeDoubleLE(x === 0 ? 0 : x, this.pos);
    }
    this.pos += 8;
  }

  private f32(x: number): void {
    this.ensure(4);
    if (Number.isNaN(x)) this.buf.writeUInt32LE(0x7fc00000, this.pos);
    else this.buf.writeFloatLE(x === 0 ? 0 : x, this.pos);
    this.pos += 4;
  }

  private string(s: string): void {
    const max = s.length * 3;
    this.ensure(4 + max);
    const n = this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
  }

  private raw(b: Uint8Array): void {
    this.ensure(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
}

function wrong(index: number, type: ValueType): TesseraError {
  return new TesseraError('INTERNAL', `Fingerprint: value ${index} is not in the in-memory form of ${type}`);
}

/**
 * Orders two fingerprints as 16 unsigned bytes (memcmp): negative, zero or positive. The tie-break
 * of `last` and `last_n` after the event time.
 */
export function compareFingerprints(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < FINGERPRINT_BYTES; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

/** Orders two events by (ts, fp): the order of `last` and `last_n` (greatest = newest). */
export function compareEventOrder(tsA: number, fpA: Uint8Array, tsB: number, fpB: Uint8Array): number {
  if (tsA !== tsB) return tsA < tsB ? -1 : 1;
  return compareFingerprints(fpA, fpB);
}
