/**
 * The last-n list of one input (design §3.2): the n greatest (ts, fp) events with a non-null input,
 * newest first, n being the largest `n` over the input's `last_n` aggregations. Not tiled: the
 * n latest events overall, filtered to `ts ≥ start(t)`, are exactly `last_n` of the window (any
 * in-window event not among them is older than n in-window events). Little-endian:
 *
 *   u8 n, u8 count, then per entry: f64 ts, 16 B fp, value — int64 8 B, double and timestamp f64,
 *   string u32 length + UTF-8 (u32, not §3.2's u16: a string may be up to 1 MiB).
 */

import type { FeatureValue } from '../model.js';
import type { AggregationInputType } from './spec.js';
import { TesseraError } from '../errors.js';
import { FINGERPRINT_BYTES } from './fingerprint.js';

const ENTRY_HEADER_BYTES = 8 + FINGERPRINT_BYTES;

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Bytes of the entry at `at` (its header and value). */
function entryBytes(view: DataView, at: number, type: AggregationInputType): number {
  if (type !== 'string') return ENTRY_HEADER_BYTES + 8;
  return ENTRY_HEADER_BYTES + 4 + view.getUint32(at + ENTRY_HEADER_BYTES, true);
}

/** Compares the entry at `at` with (ts, fp) by (ts, fp). */
function compareEntry(view: DataView, at: number, ts: number, fp: Uint8Array): number {
  const x = view.getFloat64(at, true);
  if (x !== ts) return x < ts ? -1 : 1;
  for (let i = 0; i < FINGERPRINT_BYTES; i++) {
    const d = view.getUint8(at + 8 + i) - (fp[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

function encodeEntry(
  type: AggregationInputType,
  ts: number,
  fp: Uint8Array,
  value: NonNullable<FeatureValue>,
): Uint8Array {
  let out: Uint8Array;
  if (type === 'string') {
    const utf8 = Buffer.from(value as string, 'utf8');
    out = new Uint8Array(ENTRY_HEADER_BYTES + 4 + utf8.byteLength);
    viewOf(out).setUint32(ENTRY_HEADER_BYTES, utf8.byteLength, true);
    out.set(utf8, ENTRY_HEADER_BYTES + 4);
  } else {
    out = new Uint8Array(ENTRY_HEADER_BYTES + 8);
    const v = viewOf(out);
    if (type === 'int64') v.setBigInt64(ENTRY_HEADER_BYTES, value as bigint, true);
    else v.setFloat64(ENTRY_HEADER_BYTES, (value as number) === 0 ? 0 : (value as number), true);
  }
  viewOf(out).setFloat64(0, ts, true);
  out.set(fp.subarray(0, FINGERPRINT_BYTES), 8);
  return out;
}

/**
 * The list with one more event (a null value is ignored): inserted in (ts, fp) order when it is
 * among the n greatest, the oldest entry dropped past n; the same bytes when it is not, or when an
 * entry with its (ts, fp) is already there.
 */
export function lastNListInsert(
  list: Uint8Array | undefined,
  n: number,
  type: AggregationInputType,
  eventTsMillis: number,
  fp: Uint8Array,
  value: FeatureValue,
): Uint8Array {
  if (n < 1 || n > 255) throw new TesseraError('INTERNAL', `Last-n list: n ${n} is outside 1…255`);
  const bytes = list ?? Uint8Array.of(n, 0);
  if (value === null) return bytes;
  if (bytes[0] !== n) throw new TesseraError('INTERNAL', `Last-n list: holds n ${bytes[0]}, asked for ${n}`);
  const view = viewOf(bytes);
  const count = bytes[1] as number;
  let at = 2;
  let pos = 0;
  while (pos < count) {
    const c = compareEntry(view, at, eventTsMillis, fp);
    if (c === 0) return bytes;
    if (c < 0) break;
    at += entryBytes(view, at, type);
    pos++;
  }
  if (pos >= n) return bytes;
  const entry = encodeEntry(type, eventTsMillis, fp, value);
  // Keep entries after the insertion point up to n − 1 in all.
  let end = at;
  for (let k = pos; k < Math.min(count, n - 1); k++) end += entryBytes(view, end, type);
  const out = new Uint8Array(at + entry.byteLength + (end - at));
  out.set(bytes.subarray(0, at), 0);
  out.set(entry, at);
  out.set(bytes.subarray(at, end), at + entry.byteLength);
  out[1] = Math.min(count + 1, n);
  return out;
}

/**
 * `last_n` of a window from the list: the first `n` entries with `ts ≤ t`, kept when `ts ≥ startMillis`
 * (−∞ for unbounded), newest first. int64 and timestamp inputs give a BigInt64Array (timestamps in ms),
 * double a Float64Array, string a string[]; no list or no entry gives the empty list.
 */
export function lastNListValue(
  list: Uint8Array | undefined,
  n: number,
  type: AggregationInputType,
  startMillis: number,
  t: number,
): BigInt64Array | Float64Array | string[] {
  const picked: number[] = [];
  if (list !== undefined) {
    const view = viewOf(list);
    const count = list[1] as number;
    let at = 2;
    let taken = 0;
    for (let k = 0; k < count && taken < n; k++) {
      const ts = view.getFloat64(at, true);
      if (ts <= t) {
        if (ts < startMillis) break;
        picked.push(at);
        taken++;
      }
      at += entryBytes(view, at, type);
    }
  }
  const view = list === undefined ? undefined : viewOf(list);
  switch (type) {
    case 'double': {
      const out = new Float64Array(picked.length);
      for (let i = 0; i < picked.length; i++)
        out[i] = (view as DataView).getFloat64((picked[i] as number) + ENTRY_HEADER_BYTES, true);
      return out;
    }
    case 'string':
      return picked.map((at) => {
        const v = view as DataView;
        const length = v.getUint32(at + ENTRY_HEADER_BYTES, true);
        const from = v.byteOffset + at + ENTRY_HEADER_BYTES + 4;
        return Buffer.from(v.buffer, from, length).toString('utf8');
      });
    case 'int64':
    case 'timestamp': {
      const out = new BigInt64Array(picked.length);
      for (let i = 0; i < picked.length; i++) {
        const at = (picked[i] as number) + ENTRY_HEADER_BYTES;
        const v = view as DataView;
        out[i] = type === 'int64' ? v.getBigInt64(at, true) : BigInt(v.getFloat64(at, true));
      }
      return out;
    }
    case 'bool':
      throw new TesseraError('INTERNAL', 'Last-n list: last_n takes no bool input');
  }
}
