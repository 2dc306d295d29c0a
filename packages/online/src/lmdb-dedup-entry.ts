/**
 * The embedded store's dedup set of one (entity, field, generation) as ONE LMDB value (design
 * §3.5, "Decided in increment 13"): `<entity>\0<field>.g<G>.dedup`, next to the entity's rows and
 * state entry in the `rows` database, so an event write reads and writes it with one get and one put
 * on the pages the entity's LWW row already dirties (before: a get and a put per event in a
 * separate `dedup` tree, whose random keys doubled the pages a commit writes).
 *
 *   u8 format (1), f64 LE deadline, u32 LE count, then count × (16-byte fp, f64 LE event ts), sorted by fp (memcmp)
 *
 * `deadline` is the value's deadline as the `deadlines` database holds it (0: none), kept in the
 * value so a write knows it without reading that database (both change together; a sweep deletes both).
 *
 * Forgetting is exact and lazy: `forgetOlderThan` sets the bound below which an entry is no
 * duplicate; entries below it are dropped whenever the value is rewritten (any write that adds an
 * fp), so the stored value holds at most one write's worth of forgotten entries.
 */
import { FINGERPRINT_BYTES, TesseraError, fingerprintHex, type EventDedupView } from '@tessera/core';

/** Format byte of a dedup value. */
export const DEDUP_ENTRY_FORMAT = 1;
const HEADER_BYTES = 13;
const COUNT_AT = 9;
const ENTRY_BYTES = FINGERPRINT_BYTES + 8;

/** The field of the dedup value of `field`'s generation `generation`. */
export function dedupEntryField(field: string, generation: number): string {
  return `${field}.g${generation}.dedup`;
}

/** One write's view of a dedup value: the stored entries, and the fps this write adds. */
export class DedupEntry implements EventDedupView {
  readonly #stored: DataView;
  readonly #count: number;
  /** The deadline the stored value records (0: none, or no value). */
  readonly storedDeadline: number;
  #bound = -Infinity;
  /** fp hex → [fp, ts], added by this write (or carried over from the per-field layout's set). */
  readonly #added = new Map<string, readonly [Uint8Array, number]>();

  /** `stored`: the value as read (undefined: none); `entry` names it in errors. */
  constructor(stored: Uint8Array | undefined, entry: string) {
    if (stored === undefined) {
      this.#stored = new DataView(new ArrayBuffer(0));
      this.#count = 0;
      this.storedDeadline = 0;
      return;
    }
    const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
    if (stored.byteLength < HEADER_BYTES || stored[0] !== DEDUP_ENTRY_FORMAT) {
      throw new TesseraError('INTERNAL', `Dedup entry ${JSON.stringify(entry)}: unknown format`);
    }
    const count = view.getUint32(COUNT_AT, true);
    if (stored.byteLength !== HEADER_BYTES + count * ENTRY_BYTES) {
      throw new TesseraError(
        'INTERNAL',
        `Dedup entry ${JSON.stringify(entry)}: ${stored.byteLength} bytes for ${count} entries`,
      );
    }
    this.#stored = view;
    this.#count = count;
    this.storedDeadline = view.getFloat64(1, true);
  }

  forgetOlderThan(minTsMillis: number): void {
    this.#bound = minTsMillis;
  }

  has(fp: Uint8Array): boolean {
    const added = this.#added.size === 0 ? undefined : this.#added.get(fingerprintHex(fp));
    if (added !== undefined) return added[1] >= this.#bound;
    const at = this.#find(fp);
    return at >= 0 && this.#stored.getFloat64(HEADER_BYTES + at * ENTRY_BYTES + FINGERPRINT_BYTES, true) >= this.#bound;
  }

  add(fp: Uint8Array, tsMillis: number): void {
    this.#added.set(fingerprintHex(fp), [fp.slice(0, FINGERPRINT_BYTES), tsMillis]);
  }

  /** Whether the value must be rewritten (this write added an fp). */
  get changed(): boolean {
    return this.#added.size > 0;
  }

  /**
   * The value to store, recording `deadline` (0: none): the stored and added entries at or above the
   * bound, sorted by fp (an added fp replaces a stored copy), or null when none is left (delete it).
   */
  encode(deadline: number): Buffer | null {
    const added = [...this.#added.values()].filter(([, ts]) => ts >= this.#bound);
    added.sort(([a], [b]) => compareFp(a, 0, b));
    const out = Buffer.allocUnsafe(HEADER_BYTES + (this.#count + added.length) * ENTRY_BYTES);
    const stored = new Uint8Array(this.#stored.buffer, this.#stored.byteOffset, this.#stored.byteLength);
    let n = 0;
    let a = 0;
    const put = (fp: Uint8Array, from: number, ts: number): void => {
      const at = HEADER_BYTES + n * ENTRY_BYTES;
      out.set(fp.subarray(from, from + FINGERPRINT_BYTES), at);
      out.writeDoubleLE(ts, at + FINGERPRINT_BYTES);
      n++;
    };
    for (let s = 0; s < this.#count; s++) {
      const at = HEADER_BYTES + s * ENTRY_BYTES;
      // Added entries sorting before this stored one go first; an equal one replaces it.
      let order = 1;
      while (
        a < added.length &&
        (order = compareFp((added[a] as readonly [Uint8Array, number])[0], 0, stored, at)) < 0
      ) {
        const [fp, ts] = added[a] as readonly [Uint8Array, number];
        put(fp, 0, ts);
        a++;
      }
      if (a < added.length && order === 0) continue; // replaced by the added copy (put next round or after)
      const ts = this.#stored.getFloat64(at + FINGERPRINT_BYTES, true);
      if (ts >= this.#bound) put(stored, at, ts);
    }
    for (; a < added.length; a++) {
      const [fp, ts] = added[a] as readonly [Uint8Array, number];
      put(fp, 0, ts);
    }
    if (n === 0) return null;
    out[0] = DEDUP_ENTRY_FORMAT;
    out.writeDoubleLE(deadline, 1);
    out.writeUInt32LE(n, COUNT_AT);
    return out.subarray(0, HEADER_BYTES + n * ENTRY_BYTES);
  }

  /** Index of the stored entry with this fp, or −1 (binary search: entries are sorted by fp). */
  #find(fp: Uint8Array): number {
    const stored = new Uint8Array(this.#stored.buffer, this.#stored.byteOffset, this.#stored.byteLength);
    let lo = 0;
    let hi = this.#count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const order = compareFp(fp, 0, stored, HEADER_BYTES + mid * ENTRY_BYTES);
      if (order === 0) return mid;
      if (order < 0) hi = mid - 1;
      else lo = mid + 1;
    }
    return -1;
  }
}

/** memcmp of `a` (16 bytes from 0) and the 16 bytes of `b` at `bAt`. */
function compareFp(a: Uint8Array, aAt: number, b: Uint8Array, bAt = 0): number {
  for (let i = 0; i < FINGERPRINT_BYTES; i++) {
    const d = (a[aAt + i] as number) - (b[bAt + i] as number);
    if (d !== 0) return d;
  }
  return 0;
}
