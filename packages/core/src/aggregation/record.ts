/**
 * Fold and merge on fixed-size IR records (layout in `layout.ts`), in place on a DataView: the
 * read path merges the records of a window's tiles into one accumulator record without an object
 * or a BigInt per record. int64 sums are added as two 32-bit limbs with carry (exactly mod 2^64,
 * like ClickHouse's `sumWithOverflow` and the Lua limbs), int64 min/max compare the limbs.
 */

import type { FeatureValue } from '../model.js';
import type { TileLayout, TileSlot } from './layout.js';
import {
  LAST_SLOT_BYTES,
  SLOT_COUNT,
  SLOT_LAST,
  SLOT_MAX,
  SLOT_MAX_TS,
  SLOT_MIN,
  SLOT_MIN_TS,
  SLOT_NONNULL,
  SLOT_SUM,
  VALUE_BOOL,
  VALUE_F64,
  VALUE_I64,
} from './layout.js';
import { FINGERPRINT_BYTES } from './fingerprint.js';

const TWO_POW_32 = 0x1_0000_0000;
const SCRATCH = new DataView(new ArrayBuffer(8));

/** Writes the empty record at `offset`: counts and sums 0, nothing present, min_ts +∞, max_ts −∞. */
export function initRecord(layout: TileLayout, view: DataView, offset: number): void {
  for (let i = 0; i < layout.recordBytes; i++) view.setUint8(offset + i, 0);
  for (const s of layout.slots) {
    if (s.kind === SLOT_MIN_TS) view.setFloat64(offset + s.offset, Infinity, true);
    else if (s.kind === SLOT_MAX_TS) view.setFloat64(offset + s.offset, -Infinity, true);
  }
}

/** A new empty record in its own buffer (the merge accumulator of a read). */
export function newRecord(layout: TileLayout): DataView {
  const view = new DataView(new ArrayBuffer(layout.recordBytes));
  initRecord(layout, view, 0);
  return view;
}

function hasBit(view: DataView, offset: number, bit: number): boolean {
  return (view.getUint8(offset + (bit >> 3)) & (1 << (bit & 7))) !== 0;
}

function setBit(view: DataView, offset: number, bit: number): void {
  const at = offset + (bit >> 3);
  view.setUint8(at, view.getUint8(at) | (1 << (bit & 7)));
}

/** Whether the slot's value is present in the record at `offset` (always true for slots without a bit). */
export function slotPresent(view: DataView, offset: number, slot: TileSlot): boolean {
  return slot.presenceBit < 0 || hasBit(view, offset, slot.presenceBit);
}

/** Adds the int64 at (b, bo) into (a, ao), wrapping mod 2^64. */
function addInt64(a: DataView, ao: number, b: DataView, bo: number): void {
  const lo = a.getUint32(ao, true) + b.getUint32(bo, true);
  const carry = lo >= TWO_POW_32 ? 1 : 0;
  a.setUint32(ao, lo - carry * TWO_POW_32, true);
  a.setInt32(ao + 4, (a.getInt32(ao + 4, true) + b.getInt32(bo + 4, true) + carry) | 0, true);
}

/** Compares the int64s at (a, ao) and (b, bo): negative, zero or positive. */
function compareInt64(a: DataView, ao: number, b: DataView, bo: number): number {
  const d = a.getInt32(ao + 4, true) - b.getInt32(bo + 4, true);
  return d !== 0 ? d : a.getUint32(ao, true) - b.getUint32(bo, true);
}

/** Compares the 8-byte values of one kind at (a, ao) and (b, bo). */
function compareValue(kind: number, a: DataView, ao: number, b: DataView, bo: number): number {
  if (kind === VALUE_I64) return compareInt64(a, ao, b, bo);
  const x = a.getFloat64(ao, true);
  const y = b.getFloat64(bo, true);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Compares the (ts, fp) of two `last` slots. */
function compareLast(a: DataView, ao: number, b: DataView, bo: number): number {
  const x = a.getFloat64(ao, true);
  const y = b.getFloat64(bo, true);
  if (x !== y) return x < y ? -1 : 1;
  for (let i = 8; i < 8 + FINGERPRINT_BYTES; i++) {
    const d = a.getUint8(ao + i) - b.getUint8(bo + i);
    if (d !== 0) return d;
  }
  return 0;
}

/** Writes one input value into the scratch as its slot's 8 bytes. */
function toScratch(kind: number, v: NonNullable<FeatureValue>): void {
  if (kind === VALUE_I64) {
    SCRATCH.setBigInt64(0, v as bigint, true);
  } else if (kind === VALUE_BOOL) {
    SCRATCH.setFloat64(0, 0, true);
    SCRATCH.setUint8(0, v === true ? 1 : 0);
  } else {
    const x = v as number;
    SCRATCH.setFloat64(0, x === 0 ? 0 : x, true); // −0 as +0: min/max ties must not depend on order
  }
}

function copy8(to: DataView, to0: number, from: DataView, from0: number): void {
  to.setUint32(to0, from.getUint32(from0, true), true);
  to.setUint32(to0 + 4, from.getUint32(from0 + 4, true), true);
}

/**
 * Folds one event into the record at `offset`. `values` are the view's features in storage order
 * (in-memory form; inputs read by index); null inputs are ignored. Deduplication is the caller's:
 * an event folded twice counts twice.
 */
export function foldEvent(
  layout: TileLayout,
  view: DataView,
  offset: number,
  eventTsMillis: number,
  fp: Uint8Array,
  values: readonly FeatureValue[],
): void {
  for (const s of layout.slots) {
    const at = offset + s.offset;
    switch (s.kind) {
      case SLOT_COUNT:
        view.setFloat64(at, view.getFloat64(at, true) + 1, true);
        break;
      case SLOT_MIN_TS:
        if (eventTsMillis < view.getFloat64(at, true)) view.setFloat64(at, eventTsMillis, true);
        break;
      case SLOT_MAX_TS:
        if (eventTsMillis > view.getFloat64(at, true)) view.setFloat64(at, eventTsMillis, true);
        break;
      default: {
        const v = values[s.inputIndex];
        if (v === null || v === undefined) break;
        if (s.kind === SLOT_NONNULL) {
          view.setFloat64(at, view.getFloat64(at, true) + 1, true);
        } else if (s.kind === SLOT_SUM) {
          if (s.valueKind === VALUE_F64) {
            view.setFloat64(at, view.getFloat64(at, true) + (v as number), true);
          } else {
            toScratch(VALUE_I64, v);
            addInt64(view, at, SCRATCH, 0);
          }
        } else if (s.kind === SLOT_LAST) {
          if (
            hasBit(view, offset, s.presenceBit) &&
            compareEventTo(view, at, eventTsMillis, fp) >= 0 // the stored event is newer or the same
          ) {
            break;
          }
          view.setFloat64(at, eventTsMillis, true);
          for (let i = 0; i < FINGERPRINT_BYTES; i++) view.setUint8(at + 8 + i, fp[i] as number);
          toScratch(s.valueKind, v);
          copy8(view, at + 24, SCRATCH, 0);
          setBit(view, offset, s.presenceBit);
        } else {
          // SLOT_MIN / SLOT_MAX
          toScratch(s.valueKind, v);
          if (hasBit(view, offset, s.presenceBit)) {
            const c = compareValue(s.valueKind, SCRATCH, 0, view, at);
            if (s.kind === SLOT_MIN ? c >= 0 : c <= 0) break;
          }
          copy8(view, at, SCRATCH, 0);
          setBit(view, offset, s.presenceBit);
        }
      }
    }
  }
}

/** Compares the stored `last` (ts, fp) at `at` with (ts, fp). */
function compareEventTo(view: DataView, at: number, ts: number, fp: Uint8Array): number {
  const x = view.getFloat64(at, true);
  if (x !== ts) return x < ts ? -1 : 1;
  for (let i = 0; i < FINGERPRINT_BYTES; i++) {
    const d = view.getUint8(at + 8 + i) - (fp[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Merges `count` consecutive records (`stride` bytes apart, the first at `srcOffset`) into `dst`, slot
 * by slot: the same additions and comparisons in the same record order as `count` calls of
 * {@link mergeRecord} — so the same result to the bit — with one read and write of `dst` per slot.
 * For layouts whose slots are all f64 counts and sums and timestamp min/max (no presence bits);
 * others merge record by record.
 */
export function mergeRecords(
  layout: TileLayout,
  dst: DataView,
  dstOffset: number,
  src: DataView,
  srcOffset: number,
  stride: number,
  count: number,
): void {
  if (!isColumnMergeable(layout)) {
    for (let r = 0; r < count; r++) mergeRecord(layout, dst, dstOffset, src, srcOffset + r * stride);
    return;
  }
  for (const s of layout.slots) {
    const d = dstOffset + s.offset;
    let acc = dst.getFloat64(d, true);
    let at = srcOffset + s.offset;
    const end = at + count * stride;
    if (s.kind === SLOT_MIN_TS) {
      for (; at < end; at += stride) {
        const x = src.getFloat64(at, true);
        if (x < acc) acc = x;
      }
    } else if (s.kind === SLOT_MAX_TS) {
      for (; at < end; at += stride) {
        const x = src.getFloat64(at, true);
        if (x > acc) acc = x;
      }
    } else {
      for (; at < end; at += stride) acc += src.getFloat64(at, true);
    }
    dst.setFloat64(d, acc, true);
  }
}

const columnMergeable = new WeakMap<TileLayout, boolean>();

function isColumnMergeable(layout: TileLayout): boolean {
  let known = columnMergeable.get(layout);
  if (known === undefined) {
    known = layout.slots.every(
      (s) =>
        s.kind === SLOT_COUNT ||
        s.kind === SLOT_NONNULL ||
        s.kind === SLOT_MIN_TS ||
        s.kind === SLOT_MAX_TS ||
        (s.kind === SLOT_SUM && s.valueKind === VALUE_F64),
    );
    columnMergeable.set(layout, known);
  }
  return known;
}

/**
 * Merges the record at (src, srcOffset) into the record at (dst, dstOffset): the IR of the union of
 * their (disjoint) event sets. Associative and commutative, so tile order cannot matter.
 */
export function mergeRecord(
  layout: TileLayout,
  dst: DataView,
  dstOffset: number,
  src: DataView,
  srcOffset: number,
): void {
  for (const s of layout.slots) {
    const d = dstOffset + s.offset;
    const f = srcOffset + s.offset;
    switch (s.kind) {
      case SLOT_COUNT:
      case SLOT_NONNULL:
        dst.setFloat64(d, dst.getFloat64(d, true) + src.getFloat64(f, true), true);
        break;
      case SLOT_SUM:
        if (s.valueKind === VALUE_F64) dst.setFloat64(d, dst.getFloat64(d, true) + src.getFloat64(f, true), true);
        else addInt64(dst, d, src, f);
        break;
      case SLOT_MIN_TS: {
        const x = src.getFloat64(f, true);
        if (x < dst.getFloat64(d, true)) dst.setFloat64(d, x, true);
        break;
      }
      case SLOT_MAX_TS: {
        const x = src.getFloat64(f, true);
        if (x > dst.getFloat64(d, true)) dst.setFloat64(d, x, true);
        break;
      }
      case SLOT_MIN:
      case SLOT_MAX: {
        if (!hasBit(src, srcOffset, s.presenceBit)) break;
        if (hasBit(dst, dstOffset, s.presenceBit)) {
          const c = compareValue(s.valueKind, src, f, dst, d);
          if (s.kind === SLOT_MIN ? c >= 0 : c <= 0) break;
        }
        copy8(dst, d, src, f);
        setBit(dst, dstOffset, s.presenceBit);
        break;
      }
      case SLOT_LAST: {
        if (!hasBit(src, srcOffset, s.presenceBit)) break;
        if (hasBit(dst, dstOffset, s.presenceBit) && compareLast(dst, d, src, f) >= 0) break;
        for (let i = 0; i < LAST_SLOT_BYTES; i += 4) dst.setUint32(d + i, src.getUint32(f + i, true), true);
        setBit(dst, dstOffset, s.presenceBit);
        break;
      }
    }
  }
}
