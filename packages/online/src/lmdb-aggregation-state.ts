/**
 * The embedded store's aggregation state entry (design §3.5, "Decided in increment 13"): every
 * aggregation field of one (entity, field, generation) — tile lists, variable tile lists, lifetime
 * IR, last-n lists — and its pending list, in ONE LMDB value `<entity>\0<field>.g<G>.state`, so a
 * read of an entity's windowed features is one get and an event write one get and one put (before:
 * one entry per field, ~5 gets a read and a put plus a deadline per changed field a write). The
 * parts keep core's encodings byte for byte (`tile-list.ts`, `variable-list.ts`, …); only the
 * container is LMDB's own. Redis keeps one hash field per part (shared with `agg-write-2.lua`).
 *
 *   u8 format (1), u8 parts, f64 LE deadline, then per part: u8 name length, name (ASCII), u32 LE length, bytes
 *
 * `deadline` is the entry's retention deadline as the `deadlines` database holds it (0: none), kept
 * in the value so a write knows it without reading that database (both change together, and a sweep
 * deletes the entry with its deadline).
 *
 * Parts are named as the fields without their `<field>.g<G>.` prefix (`t1o`, `t140.a4`, `life`,
 * `n3`, …) and `pend` for the pending list. Reads still ask for the per-field names (`<fv>.g1.t1o`,
 * `<fv>.pend`): {@link aggregationStateRef} maps them onto the state entry and its part.
 */
import { TesseraError } from '@tessera/core';

/** Format byte of a state entry. */
export const AGGREGATION_STATE_FORMAT = 1;
/** The part holding the pending list. */
export const PENDING_PART = 'pend';
/** Suffix of a state entry's field: `<field>.g<G>.state` (no aggregation field is named `state`). */
const STATE_SUFFIX = 'state';

/** The field of the state entry of `field`'s generation `generation`. */
export function aggregationStateField(field: string, generation: number): string {
  return `${field}.g${generation}.${STATE_SUFFIX}`;
}

/** Bytes before the first part: format, part count, deadline. */
const STATE_HEADER_BYTES = 10;

/** Encodes the parts (in the given order; empty parts are kept) and the entry's deadline (0: none). */
export function encodeAggregationState(parts: readonly (readonly [string, Uint8Array])[], deadline: number): Buffer {
  if (parts.length > 255) {
    throw new TesseraError('INTERNAL', `Aggregation state: ${parts.length} parts, more than 255`);
  }
  let size = STATE_HEADER_BYTES;
  for (const [name, bytes] of parts) {
    if (name.length === 0 || name.length > 255) {
      throw new TesseraError('INTERNAL', `Aggregation state: part name "${name}" is not 1–255 characters`);
    }
    size += 1 + name.length + 4 + bytes.byteLength;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = AGGREGATION_STATE_FORMAT;
  out[1] = parts.length;
  out.writeDoubleLE(deadline, 2);
  let at = STATE_HEADER_BYTES;
  for (const [name, bytes] of parts) {
    out[at] = name.length;
    out.write(name, at + 1, 'latin1');
    at += 1 + name.length;
    out.writeUInt32LE(bytes.byteLength, at);
    out.set(bytes, at + 4);
    at += 4 + bytes.byteLength;
  }
  return out;
}

/**
 * The parts of a state entry by name, as `Uint8Array` views into `bytes` (no copy). Throws INTERNAL naming the
 * entry when the bytes are not a state entry (a truncated or foreign value is never read as parts).
 */
export function decodeAggregationState(bytes: Uint8Array, entry: string): Map<string, Uint8Array> {
  const fail = (why: string): never => {
    throw new TesseraError('INTERNAL', `Aggregation state entry ${JSON.stringify(entry)}: ${why}`);
  };
  if (bytes.byteLength < STATE_HEADER_BYTES || bytes[0] !== AGGREGATION_STATE_FORMAT) fail('unknown format');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes[1] as number;
  const parts = new Map<string, Uint8Array>();
  let at = STATE_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const nameLength = at < bytes.byteLength ? (bytes[at] as number) : fail('truncated');
    if (at + 1 + nameLength + 4 > bytes.byteLength) fail('truncated');
    let name = '';
    for (let k = 0; k < nameLength; k++) name += String.fromCharCode(bytes[at + 1 + k] as number);
    at += 1 + nameLength;
    const length = view.getUint32(at, true);
    at += 4;
    if (at + length > bytes.byteLength) fail('truncated');
    // A plain Uint8Array view even over a Buffer: core's fold copies fields with `slice()`, which
    // on a Buffer would be another view of the same bytes.
    parts.set(name, new Uint8Array(bytes.buffer, bytes.byteOffset + at, length));
    at += length;
  }
  if (at !== bytes.byteLength) fail(`${bytes.byteLength - at} bytes after the last part`);
  return parts;
}

/** The deadline a state entry records (0: none); the bytes must have passed {@link decodeAggregationState}. */
export function aggregationStateDeadline(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(2, true);
}

/** Where a requested field lives in the new layout: the state entry's field and the part. */
export interface AggregationStateRef {
  readonly state: string;
  readonly part: string;
}

/** `<base>.g<G>.<part>` for the parts the fold writes (hop tiles, their variable lists, lifetime, last-n) and `pend`. */
const GENERATION_PART = /\.g(\d+)\.(t[0-9a-z]+(?:\.a\d+)?|life(?:\.a\d+)?|n\d+|pend)$/;
const PENDING_G1 = '.pend';

/**
 * The state entry and part a requested field name stands for, or null for any other field (a
 * plain LWW row, a rebuild marker). The `.` that starts the suffix must be unescaped: a group
 * value (core `group-field.ts`) escapes its own dots with `\`, so `.g1.` inside it is no suffix.
 */
export function aggregationStateRef(field: string): AggregationStateRef | null {
  const match = GENERATION_PART.exec(field);
  if (match !== null && unescapedAt(field, match.index)) {
    return {
      state: aggregationStateField(field.slice(0, match.index), Number(match[1])),
      part: match[2] as string,
    };
  }
  const base = field.length - PENDING_G1.length;
  if (base > 0 && field.endsWith(PENDING_G1) && unescapedAt(field, base)) {
    return { state: aggregationStateField(field.slice(0, base), 1), part: PENDING_PART };
  }
  return null;
}

/** The character at `index` is not escaped (an even number of backslashes precede it). */
function unescapedAt(text: string, index: number): boolean {
  let slashes = 0;
  for (let i = index - 1; i >= 0 && text.charCodeAt(i) === 92; i--) slashes++;
  return slashes % 2 === 0;
}

/**
 * {@link aggregationStateRef}, remembered: reads ask for the same few names again and again. The
 * cache forgets everything when full (group fields carry values, so names are unbounded).
 */
export class AggregationStateRefs {
  readonly #known = new Map<string, AggregationStateRef | null>();
  readonly #limit: number;

  constructor(limit = 4096) {
    this.#limit = limit;
  }

  of(field: string): AggregationStateRef | null {
    let ref = this.#known.get(field);
    if (ref === undefined) {
      ref = aggregationStateRef(field);
      if (this.#known.size >= this.#limit) this.#known.clear();
      this.#known.set(field, ref);
    }
    return ref;
  }
}
