/**
 * The layout of one fixed-size IR record (design §3.2), compiled once from the fixed-width
 * aggregations of one hop (or of the unbounded ones, for the lifetime IR). Aggregations share
 * slots: one event count per record; `sum(x)` and `mean(x)` share `(sum_x, nonnull_x)`, and
 * `count(x)` reads `nonnull_x`; `first_ts`/`last_ts` share `(min_ts, max_ts)`.
 *
 * A record is `presence bytes` (at least one; bit i of byte i >> 3 = slot value present) followed by
 * the slots in order of first need by the specs, all little-endian:
 *   count f64 | nonnull f64 | sum int64 (two's complement, wrapping) or f64 | min/max 8 B + presence |
 *   min_ts f64 | max_ts f64 | last: ts f64, fp 16 B, value 8 B + presence (32 B).
 * int64 values are 8 B two's complement; doubles and timestamps f64; bool the first of 8 bytes.
 */

import type { AggregationInputType, AggregationSpec } from './spec.js';
import { isFixedWidthAggregation } from './spec.js';
import { TesseraError } from '../errors.js';

/** Slot kinds (numbers: the fold and merge loops switch on them). */
export const SLOT_COUNT = 0;
export const SLOT_NONNULL = 1;
export const SLOT_SUM = 2;
export const SLOT_MIN = 3;
export const SLOT_MAX = 4;
export const SLOT_MIN_TS = 5;
export const SLOT_MAX_TS = 6;
export const SLOT_LAST = 7;
export type SlotKind = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** Value encodings of a slot's 8-byte value. */
export const VALUE_F64 = 0;
export const VALUE_I64 = 1;
export const VALUE_BOOL = 2;
export type SlotValueKind = 0 | 1 | 2;

/** Bytes of a `last` slot: ts f64, fp 16 B, value 8 B. */
export const LAST_SLOT_BYTES = 32;

/** One slot of a record. */
export interface TileSlot {
  readonly kind: SlotKind;
  /** Byte offset in the record (after the tile index, when there is one). */
  readonly offset: number;
  /** Input feature index; -1 for count, min_ts, max_ts. */
  readonly inputIndex: number;
  readonly valueKind: SlotValueKind;
  /** Presence bit index (min, max, last); -1 for slots that are always set. */
  readonly presenceBit: number;
}

/** Where finalize finds one aggregation's values in a record. */
export interface AggregationSlots {
  readonly spec: AggregationSpec;
  /** The main slot: count, nonnull (count of x), sum, min, max, min_ts, max_ts or last. */
  readonly main: TileSlot;
  /** The non-null count slot (sum and mean), else undefined. */
  readonly nonnull: TileSlot | undefined;
}

/** A compiled record layout. */
export interface TileLayout {
  /** Bytes of one record (without a tile index). */
  readonly recordBytes: number;
  readonly presenceBytes: number;
  readonly slots: readonly TileSlot[];
  /** One entry per fixed-width spec, in the order given. */
  readonly aggregations: readonly AggregationSlots[];
}

function valueKindOf(type: AggregationInputType): SlotValueKind {
  switch (type) {
    case 'int64':
      return VALUE_I64;
    case 'bool':
      return VALUE_BOOL;
    case 'double':
    case 'timestamp':
      return VALUE_F64;
    case 'string':
      throw new TesseraError('INTERNAL', 'Tile layout: a string has no fixed-width slot');
  }
}

/**
 * Compiles the record layout of the fixed-width specs among `specs` (the others are skipped; see
 * `isFixedWidthAggregation`). Deterministic: the same specs in the same order give the same bytes.
 */
export function compileTileLayout(specs: readonly AggregationSpec[]): TileLayout {
  interface Need {
    kind: SlotKind;
    inputIndex: number;
    valueKind: SlotValueKind;
    bytes: number;
    presence: boolean;
  }
  const needs: Need[] = [];
  const keyOf = (kind: SlotKind, inputIndex: number): string => `${kind}:${inputIndex}`;
  const seen = new Map<string, number>();
  const need = (kind: SlotKind, inputIndex: number, valueKind: SlotValueKind): number => {
    const key = keyOf(kind, inputIndex);
    const found = seen.get(key);
    if (found !== undefined) return found;
    const presence = kind === SLOT_MIN || kind === SLOT_MAX || kind === SLOT_LAST;
    needs.push({ kind, inputIndex, valueKind, bytes: kind === SLOT_LAST ? LAST_SLOT_BYTES : 8, presence });
    seen.set(key, needs.length - 1);
    return needs.length - 1;
  };
  const wanted: { spec: AggregationSpec; main: number; nonnull: number }[] = [];
  for (const spec of specs) {
    if (!isFixedWidthAggregation(spec)) continue;
    const input = spec.input;
    const idx = input?.index ?? -1;
    switch (spec.function) {
      case 'count':
        wanted.push({
          spec,
          main: input ? need(SLOT_NONNULL, idx, VALUE_F64) : need(SLOT_COUNT, -1, VALUE_F64),
          nonnull: -1,
        });
        break;
      case 'sum':
      case 'mean': {
        if (!input) throw new TesseraError('INTERNAL', `Tile layout: ${spec.function} without an input`);
        const sum = need(SLOT_SUM, idx, valueKindOf(input.type));
        wanted.push({ spec, main: sum, nonnull: need(SLOT_NONNULL, idx, VALUE_F64) });
        break;
      }
      case 'min':
      case 'max':
      case 'last':
        if (!input) throw new TesseraError('INTERNAL', `Tile layout: ${spec.function} without an input`);
        wanted.push({
          spec,
          main: need(
            spec.function === 'min' ? SLOT_MIN : spec.function === 'max' ? SLOT_MAX : SLOT_LAST,
            idx,
            valueKindOf(input.type),
          ),
          nonnull: -1,
        });
        break;
      case 'first_ts':
      case 'last_ts': {
        const min = need(SLOT_MIN_TS, -1, VALUE_F64);
        const max = need(SLOT_MAX_TS, -1, VALUE_F64);
        wanted.push({ spec, main: spec.function === 'first_ts' ? min : max, nonnull: -1 });
        break;
      }
      case 'last_n':
      case 'approx_distinct':
        break;
    }
  }
  const presenceCount = needs.filter((n) => n.presence).length;
  const presenceBytes = Math.max(1, Math.ceil(presenceCount / 8));
  let offset = presenceBytes;
  let bit = 0;
  const slots: TileSlot[] = needs.map((n) => {
    const slot: TileSlot = {
      kind: n.kind,
      offset,
      inputIndex: n.inputIndex,
      valueKind: n.valueKind,
      presenceBit: n.presence ? bit++ : -1,
    };
    offset += n.bytes;
    return slot;
  });
  return {
    recordBytes: offset,
    presenceBytes,
    slots,
    aggregations: wanted.map((w) => ({
      spec: w.spec,
      main: slots[w.main] as TileSlot,
      nonnull: w.nonnull >= 0 ? slots[w.nonnull] : undefined,
    })),
  };
}
