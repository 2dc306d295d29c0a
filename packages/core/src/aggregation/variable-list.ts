/**
 * The variable tile list (design §3.2) of one aggregation whose tile IR has no fixed size:
 * `approx_distinct` sketches and `last` of a string. Records sorted by tile index, little-endian:
 *
 *   record  i32 tileIndex, u32 length, `length` bytes of payload
 *
 * Payloads:
 * - HLL sketch: `u8 flags` (bit 0 = dense), then sparse: `u32` codes `bucket << 6 | rho` sorted by
 *   bucket, one per bucket (its max rho), kept while 4·codes < m bytes; dense: m register bytes.
 * - last string: `f64 ts, 16 B fp, UTF-8 value` (the event with the greatest (ts, fp)).
 *
 * Decided in increment 1: lengths are u32 (§3.2 said u16), because a string input may be up to
 * 1 MiB (`MAX_VALUE_BYTES`) and a `last` string must be served whole.
 */

import { TesseraError } from '../errors.js';
import { FINGERPRINT_BYTES, compareEventOrder } from './fingerprint.js';
import { hllEstimate, hllEstimateFromHistogram, type HllCode } from './hll.js';

/** Bytes before a variable record's payload: i32 tile index, u32 length. */
export const VARIABLE_RECORD_HEADER_BYTES = 8;

/** Flag of a dense HLL payload. */
export const HLL_DENSE = 1;

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Calls `visit(tileIndex, payload)` for every record with `loIndex ≤ tileIndex ≤ hiIndex`, in order.
 * Payloads are views of the list (no copy).
 */
export function forEachVariableRecord(
  list: Uint8Array,
  loIndex: number,
  hiIndex: number,
  visit: (tileIndex: number, payload: Uint8Array) => void,
): void {
  const view = viewOf(list);
  let at = 0;
  while (at < list.byteLength) {
    if (at + VARIABLE_RECORD_HEADER_BYTES > list.byteLength) throw truncated();
    const index = view.getInt32(at, true);
    const length = view.getUint32(at + 4, true);
    const end = at + VARIABLE_RECORD_HEADER_BYTES + length;
    if (end > list.byteLength) throw truncated();
    if (index > hiIndex) return;
    if (index >= loIndex) visit(index, list.subarray(at + VARIABLE_RECORD_HEADER_BYTES, end));
    at = end;
  }
}

function truncated(): TesseraError {
  return new TesseraError('INTERNAL', 'Variable tile list: a record runs past the end');
}

/**
 * Replaces (or inserts) the payload of tile `index` with `update(old payload or undefined)`.
 * Returns new list bytes.
 */
export function updateVariableRecord(
  list: Uint8Array | undefined,
  index: number,
  update: (payload: Uint8Array | undefined) => Uint8Array,
): Uint8Array {
  if (!Number.isInteger(index) || index > 0x7fff_ffff || index < -0x8000_0000) {
    throw new TesseraError('INTERNAL', `Variable tile list: tile ${index} is outside the i32 tile index`);
  }
  const bytes = list ?? new Uint8Array(0);
  const view = viewOf(bytes);
  let at = 0;
  while (at < bytes.byteLength) {
    const i = view.getInt32(at, true);
    const length = view.getUint32(at + 4, true);
    if (i >= index) {
      const old =
        i === index
          ? bytes.subarray(at + VARIABLE_RECORD_HEADER_BYTES, at + VARIABLE_RECORD_HEADER_BYTES + length)
          : undefined;
      return splice(bytes, at, old === undefined ? 0 : VARIABLE_RECORD_HEADER_BYTES + length, index, update(old));
    }
    at += VARIABLE_RECORD_HEADER_BYTES + length;
  }
  return splice(bytes, bytes.byteLength, 0, index, update(undefined));
}

function splice(bytes: Uint8Array, at: number, removed: number, index: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength - removed + VARIABLE_RECORD_HEADER_BYTES + payload.byteLength);
  out.set(bytes.subarray(0, at), 0);
  const v = viewOf(out);
  v.setInt32(at, index, true);
  v.setUint32(at + 4, payload.byteLength, true);
  out.set(payload, at + VARIABLE_RECORD_HEADER_BYTES);
  out.set(bytes.subarray(at + removed), at + VARIABLE_RECORD_HEADER_BYTES + payload.byteLength);
  return out;
}

/** The list without records whose tile index is below `minIndex`. */
export function pruneVariableList(list: Uint8Array, minIndex: number): Uint8Array {
  const view = viewOf(list);
  let at = 0;
  while (at < list.byteLength && view.getInt32(at, true) < minIndex) {
    at += VARIABLE_RECORD_HEADER_BYTES + view.getUint32(at + 4, true);
  }
  return at === 0 ? list : list.slice(at);
}

/** An HLL payload with one more code (a new payload; the old one is not changed). */
export function hllPayloadAdd(payload: Uint8Array | undefined, precision: number, code: HllCode): Uint8Array {
  const m = 1 << precision;
  const bucket = code >>> 6;
  const rho = code & 63;
  if (payload !== undefined && ((payload[0] as number) & HLL_DENSE) !== 0) {
    const out = new Uint8Array(payload);
    if (rho > (out[1 + bucket] as number)) out[1 + bucket] = rho;
    return out;
  }
  const old = payload ?? new Uint8Array(1);
  const codes = (old.byteLength - 1) >>> 2;
  const view = viewOf(old);
  // Binary search by bucket.
  let lo = 0;
  let hi = codes;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (view.getUint32(1 + mid * 4, true) >>> 6 < bucket) lo = mid + 1;
    else hi = mid;
  }
  if (lo < codes) {
    const existing = view.getUint32(1 + lo * 4, true);
    if (existing >>> 6 === bucket) {
      if ((existing & 63) >= rho) return old;
      const out = new Uint8Array(old);
      viewOf(out).setUint32(1 + lo * 4, code, true);
      return out;
    }
  }
  if ((codes + 1) * 4 >= m) {
    const dense = new Uint8Array(1 + m);
    dense[0] = HLL_DENSE;
    for (let i = 0; i < codes; i++) {
      const c = view.getUint32(1 + i * 4, true);
      dense[1 + (c >>> 6)] = c & 63;
    }
    if (rho > (dense[1 + bucket] as number)) dense[1 + bucket] = rho;
    return dense;
  }
  const out = new Uint8Array(old.byteLength + 4);
  out.set(old.subarray(0, 1 + lo * 4), 0);
  viewOf(out).setUint32(1 + lo * 4, code, true);
  out.set(old.subarray(1 + lo * 4), 1 + (lo + 1) * 4);
  return out;
}

/**
 * The union of HLL payloads of one precision, estimated once (a read's window): the same estimate as
 * `hllEstimate` of the registers {@link hllPayloadMergeInto} would build, without walking all 2^p
 * registers when every payload is sparse — the histogram comes from the buckets the codes touched
 * (every rho is ≥ 1, so a bucket is touched once), the rest counting as zeros. One instance is reused
 * read after read: `estimate()` leaves it empty again.
 */
export class HllUnion {
  readonly #registers: Uint8Array;
  readonly #touched: Uint32Array;
  readonly #histogram = new Uint32Array(65);
  #count = 0;
  #dense = false;

  constructor(precision: number) {
    this.#registers = new Uint8Array(1 << precision);
    this.#touched = new Uint32Array(1 << precision);
  }

  /** Merges one payload (sparse or dense) into the union. */
  add(payload: Uint8Array): void {
    const registers = this.#registers;
    if (((payload[0] as number) & HLL_DENSE) !== 0) {
      hllPayloadMergeInto(registers, payload);
      this.#dense = true;
      return;
    }
    const view = viewOf(payload);
    for (let at = 1; at + 4 <= payload.byteLength; at += 4) {
      const c = view.getUint32(at, true);
      const b = c >>> 6;
      const old = registers[b] as number;
      if ((c & 63) > old) {
        if (old === 0) this.#touched[this.#count++] = b;
        registers[b] = c & 63;
      }
    }
  }

  /** The estimate of the union; the union is empty afterwards. */
  estimate(): number {
    const registers = this.#registers;
    let estimate: number;
    if (this.#dense) {
      estimate = hllEstimate(registers);
    } else {
      const histogram = this.#histogram;
      histogram.fill(0);
      histogram[0] = registers.length - this.#count;
      for (let i = 0; i < this.#count; i++) {
        const r = registers[this.#touched[i] as number] as number;
        histogram[r] = (histogram[r] as number) + 1;
      }
      estimate = hllEstimateFromHistogram(histogram);
    }
    this.clear();
    return estimate;
  }

  /** Empties the union (a read that failed half-way leaves it for the next one this way). */
  clear(): void {
    if (this.#dense) this.#registers.fill(0);
    else for (let i = 0; i < this.#count; i++) this.#registers[this.#touched[i] as number] = 0;
    this.#count = 0;
    this.#dense = false;
  }
}

/** Merges an HLL payload into registers (per-bucket max). */
export function hllPayloadMergeInto(registers: Uint8Array, payload: Uint8Array): void {
  if (((payload[0] as number) & HLL_DENSE) !== 0) {
    if (payload.byteLength !== 1 + registers.length) {
      throw new TesseraError(
        'INTERNAL',
        `HLL payload: ${payload.byteLength - 1} registers, expected ${registers.length}`,
      );
    }
    for (let i = 0; i < registers.length; i++) {
      const r = payload[1 + i] as number;
      if (r > (registers[i] as number)) registers[i] = r;
    }
    return;
  }
  const view = viewOf(payload);
  for (let at = 1; at + 4 <= payload.byteLength; at += 4) {
    const c = view.getUint32(at, true);
    const b = c >>> 6;
    if ((c & 63) > (registers[b] as number)) registers[b] = c & 63;
  }
}

const LAST_STRING_HEADER_BYTES = 8 + FINGERPRINT_BYTES;

/** A `last` string payload: the given event, or `payload` when its (ts, fp) is not older. */
export function lastStringPayloadFold(
  payload: Uint8Array | undefined,
  eventTsMillis: number,
  fp: Uint8Array,
  value: string,
): Uint8Array {
  if (payload !== undefined) {
    const ts = viewOf(payload).getFloat64(0, true);
    if (compareEventOrder(ts, payload.subarray(8, LAST_STRING_HEADER_BYTES), eventTsMillis, fp) >= 0) return payload;
  }
  const utf8 = Buffer.from(value, 'utf8');
  const out = new Uint8Array(LAST_STRING_HEADER_BYTES + utf8.byteLength);
  viewOf(out).setFloat64(0, eventTsMillis, true);
  out.set(fp.subarray(0, FINGERPRINT_BYTES), 8);
  out.set(utf8, LAST_STRING_HEADER_BYTES);
  return out;
}

/** Of two `last` string payloads, the newer by (ts, fp) (`a` when `b` is undefined). */
export function lastStringPayloadNewer(a: Uint8Array | undefined, b: Uint8Array): Uint8Array {
  if (a === undefined) return b;
  const ta = viewOf(a).getFloat64(0, true);
  const tb = viewOf(b).getFloat64(0, true);
  return compareEventOrder(ta, a.subarray(8, LAST_STRING_HEADER_BYTES), tb, b.subarray(8, LAST_STRING_HEADER_BYTES)) >=
    0
    ? a
    : b;
}

/** The served value of a `last` string payload (null when there is none). */
export function lastStringPayloadValue(payload: Uint8Array | undefined): string | null {
  if (payload === undefined) return null;
  return Buffer.from(
    payload.buffer,
    payload.byteOffset + LAST_STRING_HEADER_BYTES,
    payload.byteLength - LAST_STRING_HEADER_BYTES,
  ).toString('utf8');
}
