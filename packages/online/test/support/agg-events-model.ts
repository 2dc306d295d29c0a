/**
 * The TS side of the Lua-vs-TS differential (design §6.3): one entity's event write (the online
 * event-write contract's steps 2–6) over an in-memory copy of what the store should hold, by core's `applyEntityEvents` — the same step the
 * embedded store runs, so the differential holds the Lua script to the LMDB store's bytes.
 */

import { applyEntityEvents, mapEventDedup, type AggregationFields, type AggregationPlan } from '@tessera/core';

/** What the store should hold for one entity, field names without the `<field>.g<G>.` prefix. */
export interface EntityModel {
  readonly fields: AggregationFields;
  pending: Uint8Array | undefined;
  /** fp (hex) → event ts. */
  readonly dedup: Map<string, number>;
}

export function newEntityModel(): EntityModel {
  return { fields: new Map(), pending: undefined, dedup: new Map() };
}

/**
 * One entity's step, by core's production twin; with `next`, a dual write into generation
 * `generation` and `generation + 1` (design §3.6). Returns the duplicates, the newest event ts taken
 * and each event's answered generation.
 */
export function applyEntityEventsModel(
  plan: AggregationPlan,
  model: EntityModel,
  acceptedAtMillis: number,
  latenessMillis: number,
  records: readonly Uint8Array[],
  next?: EntityModel,
  generation = 1,
): { duplicates: number; newestEventTsMillis: number; generations: readonly number[] } {
  const r = applyEntityEvents({
    plan,
    generation,
    acceptedAtMillis,
    latenessMillis,
    fields: model.fields,
    pending: model.pending,
    dedup: mapEventDedup(model.dedup),
    records,
    ...(next === undefined
      ? {}
      : { next: { fields: next.fields, pending: next.pending, dedup: mapEventDedup(next.dedup) } }),
  });
  if (r.pendingChanged) model.pending = r.pending ?? undefined;
  if (next !== undefined && r.next?.pendingChanged === true) next.pending = r.next.pending ?? undefined;
  return r;
}
