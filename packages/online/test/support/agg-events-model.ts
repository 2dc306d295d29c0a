/**
 * The TS side of the Lua-vs-TS differential (design §6.3): one entity's event write composed from
 * core's pure functions exactly as the online event-write contract says (steps 2–6), over an
 * in-memory copy of what the store should hold. `applyEntityEventsModel` is the one place the
 * composition lives: core's production twin (`applyEntityEvents`, written in parallel by the
 * embedded lane) replaces its body in one line once merged.
 */

import {
  decodeEventRecord,
  encodePendingList,
  eventRecordLayout,
  foldEventIntoFields,
  pendingListRecords,
  pruneAggregationFields,
  type AggregationFields,
  type AggregationPlan,
} from '@tessera/core';

/** Margin kept on top of L in the dedup set (§1.6). */
export const MODEL_DEDUP_MARGIN_MILLIS = 60_000;

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
 * One entity's step; returns the duplicates and the newest event ts taken. Once core's
 * `applyEntityEvents` is merged, the body becomes:
 *
 *   const r = applyEntityEvents({ plan, generation: 1, acceptedAtMillis, latenessMillis, fields: model.fields,
 *     pending: model.pending, dedup: mapEventDedup(model.dedup), records });
 *   model.pending = r.pending ?? undefined;
 *   return r;
 *
 * (the dedup map's keys are the same fp hex; the generation does not enter the fields' bytes).
 */
export function applyEntityEventsModel(
  plan: AggregationPlan,
  model: EntityModel,
  acceptedAtMillis: number,
  latenessMillis: number,
  records: readonly Uint8Array[],
): { duplicates: number; newestEventTsMillis: number } {
  const layout = eventRecordLayout(plan);
  const now = acceptedAtMillis;
  const forget = now - latenessMillis - MODEL_DEDUP_MARGIN_MILLIS;
  for (const [fp, ts] of model.dedup) if (ts < forget) model.dedup.delete(fp);
  let duplicates = 0;
  let newest = -Infinity;
  const added: Uint8Array[] = [];
  for (const bytes of records) {
    const { record } = decodeEventRecord(layout, bytes);
    const hex = Buffer.from(record.fp).toString('hex');
    if (model.dedup.has(hex)) {
      duplicates++;
      continue;
    }
    model.dedup.set(hex, record.tsMillis);
    newest = Math.max(newest, record.tsMillis);
    if (record.tsMillis > now) added.push(bytes);
    else foldEventIntoFields(plan, model.fields, record.tsMillis, record.fp, record.values);
  }
  const old = model.pending === undefined ? [] : pendingListRecords(model.pending);
  let due = 0;
  while (due < old.length) {
    const { record } = decodeEventRecord(layout, old[due] as Uint8Array);
    if (record.tsMillis > now) break;
    foldEventIntoFields(plan, model.fields, record.tsMillis, record.fp, record.values);
    due++;
  }
  if (due > 0 || added.length > 0) {
    const kept = [...old.slice(due), ...added].map((r) => r.slice());
    model.pending = kept.length === 0 ? undefined : encodePendingList(kept);
  }
  pruneAggregationFields(plan, model.fields, now);
  return { duplicates, newestEventTsMillis: newest };
}
