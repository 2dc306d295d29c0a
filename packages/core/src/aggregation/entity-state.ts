/**
 * The TS fold and read of one entity's aggregations (design §3.3 steps 3 and §3.4) over its
 * fields, as the online stores keep them: tile lists per hop, variable tile lists, the lifetime
 * IR, last-n lists. Field names are §3.1's without the `fv.g<G>.` prefix (the store adds it):
 *
 *   `t<h>`      tile list of hop h (h in base-36 minutes: `t5`, `t1o`, `t140`)
 *   `t<h>.a<i>` variable tile list of aggregation i (approx_distinct, last of a string)
 *   `life`      lifetime IR (fixed-width unbounded aggregations); `life.a<i>` its variable payload
 *   `n<input>`  last-n list of an input (n = the largest over its last_n)
 *
 * Pure: the caller deduplicates by fp, decides eligibility, keeps events with ts > now pending
 * (folded once the clock passes them), and stores the fields.
 */

import type { FeatureValue } from '../model.js';
import type { AggregationSlots, TileLayout } from './layout.js';
import type { AggregationInputType, AggregationSpec } from './spec.js';
import { TesseraError } from '../errors.js';
import { compileTileLayout } from './layout.js';
import { foldEvent, initRecord, newRecord } from './record.js';
import { emptyWindowValue, finalizeRecord } from './finalize.js';
import { foldIntoTileList, mergeTileRange, pruneTileList } from './tile-list.js';
import {
  forEachVariableRecord,
  HllUnion,
  hllPayloadAdd,
  lastStringPayloadFold,
  lastStringPayloadNewer,
  lastStringPayloadValue,
  pruneVariableList,
  updateVariableRecord,
} from './variable-list.js';
import { lastNListInsert, lastNListValue } from './last-n-list.js';
import { hllCodeOfInt64, hllCodeOfString } from './hll.js';
import { isFixedWidthAggregation } from './spec.js';
import { MINUTE_MILLIS, UNBOUNDED_WINDOW, floorTo, tileIndex, windowStart } from './window.js';

/** An entity's aggregation fields by name (what one HMGET returns, minus the prefix). */
export type AggregationFields = Map<string, Uint8Array>;

interface HopPlan {
  readonly hopMillis: number;
  readonly field: string;
  readonly layout: TileLayout;
}

/** How one aggregation is read. */
type ReadStep =
  | { readonly kind: 'fixed'; readonly hop: HopPlan | undefined; readonly slots: AggregationSlots }
  | { readonly kind: 'hll'; readonly field: string }
  | { readonly kind: 'last_string'; readonly field: string }
  | { readonly kind: 'last_n'; readonly field: string };

/** The compiled fold and read of one view's aggregations (build once per view version). */
export interface AggregationPlan {
  readonly specs: readonly AggregationSpec[];
  readonly hops: readonly HopPlan[];
  readonly lifetime: TileLayout;
  /** Largest n per last-n input, by field. */
  readonly lastN: ReadonlyMap<
    string,
    { readonly input: number; readonly type: AggregationInputType; readonly n: number }
  >;
  readonly steps: readonly ReadStep[];
}

/** `h` in base-36 minutes, as in field names (`5`, `1o`, `140`). */
export function hopFieldName(hopMillis: number): string {
  return `t${(hopMillis / MINUTE_MILLIS).toString(36)}`;
}

/** Compiles the plan of a view's aggregations (in the registry's order: `a<i>` is the index). */
export function compileAggregationPlan(specs: readonly AggregationSpec[]): AggregationPlan {
  const hopMillis = [...new Set(specs.filter((s) => s.windowMillis !== UNBOUNDED_WINDOW).map((s) => s.hopMillis))].sort(
    (a, b) => a - b,
  );
  const hops = hopMillis.map<HopPlan>((h) => ({
    hopMillis: h,
    field: hopFieldName(h),
    layout: compileTileLayout(specs.filter((s) => s.windowMillis !== UNBOUNDED_WINDOW && s.hopMillis === h)),
  }));
  const unbounded = specs.filter((s) => s.windowMillis === UNBOUNDED_WINDOW);
  const lifetime = compileTileLayout(unbounded);
  const lastN = new Map<string, { input: number; type: AggregationInputType; n: number }>();
  const steps = specs.map<ReadStep>((spec, i) => {
    const hop = hops.find((h) => h.hopMillis === spec.hopMillis && spec.windowMillis !== UNBOUNDED_WINDOW);
    const base = hop === undefined ? 'life' : hop.field;
    if (spec.function === 'last_n') {
      const input = spec.input;
      if (input === null) throw new TesseraError('INTERNAL', 'Aggregation plan: last_n without an input');
      const field = `n${input.index}`;
      const known = lastN.get(field);
      lastN.set(field, { input: input.index, type: input.type, n: Math.max(known?.n ?? 0, spec.n) });
      return { kind: 'last_n', field };
    }
    if (spec.function === 'approx_distinct') return { kind: 'hll', field: `${base}.a${i}` };
    if (!isFixedWidthAggregation(spec)) return { kind: 'last_string', field: `${base}.a${i}` };
    const layout = hop?.layout ?? lifetime;
    const slots = layout.aggregations.find((a) => a.spec === spec);
    if (slots === undefined) throw new TesseraError('INTERNAL', 'Aggregation plan: a spec without slots');
    return { kind: 'fixed', hop, slots };
  });
  return { specs, hops, lifetime, lastN, steps };
}

/**
 * Folds one deduplicated, eligible event (ts ≤ the store's now) into the entity's fields.
 * `values` are the view's features in storage order, in memory form (doubles −0 as +0).
 */
export function foldEventIntoFields(
  plan: AggregationPlan,
  fields: AggregationFields,
  eventTsMillis: number,
  fp: Uint8Array,
  values: readonly FeatureValue[],
): void {
  for (const hop of plan.hops) {
    if (hop.layout.slots.length === 0) continue;
    fields.set(
      hop.field,
      foldIntoTileList(fields.get(hop.field), hop.layout, hop.hopMillis, eventTsMillis, fp, values),
    );
  }
  if (plan.lifetime.slots.length > 0) {
    let life = fields.get('life');
    if (life === undefined) {
      life = new Uint8Array(plan.lifetime.recordBytes);
      initRecord(plan.lifetime, new DataView(life.buffer), 0);
      fields.set('life', life);
    }
    foldEvent(plan.lifetime, new DataView(life.buffer, life.byteOffset, life.byteLength), 0, eventTsMillis, fp, values);
  }
  for (const [field, { input, type, n }] of plan.lastN) {
    const v = values[input] ?? null;
    if (v !== null) fields.set(field, lastNListInsert(fields.get(field), n, type, eventTsMillis, fp, v));
  }
  plan.steps.forEach((step, i) => {
    if (step.kind !== 'hll' && step.kind !== 'last_string') return;
    const spec = plan.specs[i] as AggregationSpec;
    const v = values[(spec.input as { index: number }).index] ?? null;
    if (v === null) return;
    const update =
      step.kind === 'hll'
        ? (old: Uint8Array | undefined): Uint8Array =>
            hllPayloadAdd(
              old,
              spec.precision,
              typeof v === 'bigint' ? hllCodeOfInt64(v, spec.precision) : hllCodeOfString(v as string, spec.precision),
            )
        : (old: Uint8Array | undefined): Uint8Array => lastStringPayloadFold(old, eventTsMillis, fp, v as string);
    if (spec.windowMillis === UNBOUNDED_WINDOW) fields.set(step.field, update(fields.get(step.field)));
    else
      fields.set(
        step.field,
        updateVariableRecord(fields.get(step.field), tileIndex(eventTsMillis, spec.hopMillis), update),
      );
  });
}

/** One {@link HllUnion} per precision, reused by every read (cleared before each use). */
const hllUnions = new Map<number, HllUnion>();

function hllUnionOf(precision: number): HllUnion {
  let union = hllUnions.get(precision);
  if (union === undefined) {
    union = new HllUnion(precision);
    hllUnions.set(precision, union);
  }
  return union;
}

/**
 * The served value of every aggregation of the plan at query time t, in the plan's order: window
 * `floor(t − W, h) ≤ ts ≤ t` (unbounded: `ts ≤ t`). The fields must hold only events with ts ≤ t
 * (a store reads at `t = max(now, newestEventTs)` and adds pending events itself).
 */
export function readAggregations(plan: AggregationPlan, fields: AggregationFields, t: number): FeatureValue[] {
  const out: FeatureValue[] = new Array<FeatureValue>(plan.steps.length);
  // One accumulator per (hop, window): specs sharing both share one merge.
  const merged = new Map<string, DataView>();
  for (let i = 0; i < plan.steps.length; i++) {
    const step = plan.steps[i] as (typeof plan.steps)[number];
    const spec = plan.specs[i] as AggregationSpec;
    const bounded = spec.windowMillis !== UNBOUNDED_WINDOW;
    const start = bounded ? windowStart(t, spec.windowMillis, spec.hopMillis) : -Infinity;
    const lo = bounded ? tileIndex(start, spec.hopMillis) : 0;
    const hi = bounded ? tileIndex(t, spec.hopMillis) : 0;
    switch (step.kind) {
      case 'fixed': {
        if (step.hop === undefined) {
          const life = fields.get('life');
          out[i] =
            life === undefined
              ? emptyWindowValue(spec)
              : finalizeRecord(step.slots, new DataView(life.buffer, life.byteOffset, life.byteLength), 0);
          break;
        }
        const key = `${step.hop.field}/${spec.windowMillis}`;
        let acc = merged.get(key);
        if (acc === undefined) {
          acc = newRecord(step.hop.layout);
          const list = fields.get(step.hop.field);
          if (list !== undefined) mergeTileRange(list, step.hop.layout, lo, hi, acc, 0);
          merged.set(key, acc);
        }
        out[i] = finalizeRecord(step.slots, acc, 0);
        break;
      }
      case 'hll': {
        const union = hllUnionOf(spec.precision);
        union.clear();
        const data = fields.get(step.field);
        if (data !== undefined) {
          if (bounded) forEachVariableRecord(data, lo, hi, (_, payload) => union.add(payload));
          else union.add(data);
        }
        out[i] = BigInt(union.estimate());
        break;
      }
      case 'last_string': {
        const data = fields.get(step.field);
        let newest: Uint8Array | undefined;
        if (data !== undefined) {
          if (bounded)
            forEachVariableRecord(data, lo, hi, (_, payload) => {
              newest = lastStringPayloadNewer(newest, payload);
            });
          else newest = data;
        }
        out[i] = lastStringPayloadValue(newest);
        break;
      }
      case 'last_n':
        out[i] = lastNListValue(
          fields.get(step.field),
          spec.n,
          (spec.input as { type: AggregationInputType }).type,
          start,
          t,
        );
        break;
    }
  }
  return out;
}

/**
 * Drops tiles no read at or after `nowMillis` includes (§3.3 step 5): per hop h, records with
 * `tileIndex < floor(now − maxWindow_h − h, h) / h`, one hop of margin below the oldest window start.
 */
export function pruneAggregationFields(plan: AggregationPlan, fields: AggregationFields, nowMillis: number): void {
  plan.specs.forEach((spec, i) => {
    if (spec.windowMillis === UNBOUNDED_WINDOW) return;
    const step = plan.steps[i];
    if (step?.kind !== 'hll' && step?.kind !== 'last_string') return;
    const list = fields.get(step.field);
    if (list !== undefined)
      fields.set(step.field, pruneVariableList(list, pruneBelow(spec.windowMillis, spec.hopMillis, nowMillis)));
  });
  for (const hop of plan.hops) {
    const list = fields.get(hop.field);
    if (list === undefined) continue;
    let maxWindow = 0;
    for (const a of hop.layout.aggregations) maxWindow = Math.max(maxWindow, a.spec.windowMillis);
    fields.set(hop.field, pruneTileList(list, hop.layout, pruneBelow(maxWindow, hop.hopMillis, nowMillis)));
  }
}

function pruneBelow(windowMillis: number, hopMillis: number, nowMillis: number): number {
  return floorTo(nowMillis - windowMillis - hopMillis, hopMillis) / hopMillis;
}
