/**
 * Finalisation (design §1.7): IR → served value. The one function both sides use: online after
 * merging a window's tiles, offline on GetHistorical's streamed IR columns. It alone decides the
 * empty-window results: count, sum and approx_distinct 0; last_n the empty list; the others null.
 */

import type { FeatureValue } from '../model.js';
import type { AggregationSlots } from './layout.js';
import type { AggregationSpec } from './spec.js';
import { VALUE_BOOL, VALUE_I64 } from './layout.js';
import { slotPresent } from './record.js';

/** The served value of an aggregation over an empty window (or a window whose inputs are all null). */
export function emptyWindowValue(spec: AggregationSpec): FeatureValue {
  switch (spec.function) {
    case 'count':
    case 'approx_distinct':
      return 0n;
    case 'sum':
      return spec.input?.type === 'double' ? 0 : 0n;
    case 'last_n':
      switch (spec.input?.type) {
        case 'double':
          return new Float64Array(0);
        case 'string':
          return [];
        default:
          return new BigInt64Array(0);
      }
    case 'mean':
    case 'min':
    case 'max':
    case 'last':
    case 'first_ts':
    case 'last_ts':
      return null;
  }
}

/**
 * `mean` from its IR: null when no input was non-null, else `Number(sum) / count` (an int64 sum is
 * the wrapped 64-bit sum, converted once).
 */
export function finalizeMean(sum: number | bigint, nonNullCount: number): number | null {
  if (nonNullCount === 0) return null;
  return Number(sum) / nonNullCount;
}

/**
 * The served value of one fixed-width aggregation from a (merged) record at `offset` of `view`,
 * laid out by the layout that `slots` comes from. An empty record gives the empty-window value.
 */
export function finalizeRecord(slots: AggregationSlots, view: DataView, offset: number): FeatureValue {
  const { spec, main } = slots;
  const at = offset + main.offset;
  switch (spec.function) {
    case 'count':
      return BigInt(view.getFloat64(at, true));
    case 'sum':
      return main.valueKind === VALUE_I64 ? view.getBigInt64(at, true) : view.getFloat64(at, true);
    case 'mean': {
      const n = slots.nonnull === undefined ? 0 : view.getFloat64(offset + slots.nonnull.offset, true);
      if (n === 0) return null;
      return main.valueKind === VALUE_I64
        ? finalizeMean(view.getBigInt64(at, true), n)
        : finalizeMean(view.getFloat64(at, true), n);
    }
    case 'min':
    case 'max':
      if (!slotPresent(view, offset, main)) return null;
      return main.valueKind === VALUE_I64 ? view.getBigInt64(at, true) : view.getFloat64(at, true);
    case 'last': {
      if (!slotPresent(view, offset, main)) return null;
      const v = at + 24;
      if (main.valueKind === VALUE_I64) return view.getBigInt64(v, true);
      if (main.valueKind === VALUE_BOOL) return view.getUint8(v) !== 0;
      return view.getFloat64(v, true);
    }
    case 'first_ts':
    case 'last_ts': {
      const ts = view.getFloat64(at, true);
      return Number.isFinite(ts) ? ts : null;
    }
    case 'last_n':
    case 'approx_distinct':
      return emptyWindowValue(spec);
  }
}
