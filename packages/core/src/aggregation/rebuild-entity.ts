/**
 * One entity's online aggregation state rebuilt from its offline events (design §3.6, §4.4): the
 * events fold into empty fields of the target generation with the live write's own step
 * (`applyEntityEvents`), so a rebuilt entity holds exactly what live writes of the same events at
 * `nowMillis` would have left — the same fold, the same pruning, the same pending list — and a
 * rebuild and the read path cannot disagree on a single byte of layout.
 */
import { DEDUP_MARGIN_MILLIS, applyEntityEvents, mapEventDedup } from './apply-events.js';
import type { AggregationFields, AggregationPlan } from './entity-state.js';

/** The rebuilt state of one entity, as {@link OnlineStore.writeRebuilt} stores it. */
export interface RebuiltEntityState {
  /** The aggregation fields (names without the `<field>.g<G>.` prefix). */
  readonly fields: AggregationFields;
  /** The pending list (events with ts > now), or null when none. */
  readonly pending: Uint8Array | null;
  /** Dedup entries a live copy could still meet: fp (32 hex digits) → event ts. */
  readonly dedup: ReadonlyMap<string, number>;
  /** The newest event time; -Infinity without events. */
  readonly newestEventTsMillis: number;
}

/**
 * Folds one entity's deduplicated events (records from `encodeEventRecord`, any order: the fold is
 * order-free by construction and the caller streams them in (ts, fp) order) as of `nowMillis`.
 */
export function rebuildEntityState(input: {
  readonly plan: AggregationPlan;
  readonly generation: number;
  readonly nowMillis: number;
  readonly latenessMillis: number;
  readonly records: readonly Uint8Array[];
}): RebuiltEntityState {
  const entries = new Map<string, number>();
  const fields: AggregationFields = new Map();
  const result = applyEntityEvents({
    plan: input.plan,
    generation: input.generation,
    acceptedAtMillis: input.nowMillis,
    latenessMillis: input.latenessMillis,
    fields,
    pending: undefined,
    dedup: mapEventDedup(entries),
    records: input.records,
  });
  // The live step forgets before it adds; entries a live copy could no longer bring back go too.
  const forgetBelow = input.nowMillis - input.latenessMillis - DEDUP_MARGIN_MILLIS;
  for (const [fp, ts] of entries) if (ts < forgetBelow) entries.delete(fp);
  return { fields, pending: result.pending, dedup: entries, newestEventTsMillis: result.newestEventTsMillis };
}
