/**
 * The event-view part of a Write (docs/design/window-aggregations.md §1.2, §1.3): which targets an
 * event view accepts, and each row's fingerprint and eligibility, decided once per Write.
 */
import {
  EXCLUSION_NONE,
  FINGERPRINT_BYTES,
  TesseraError,
  batchExclusions,
  batchFingerprints,
  encodeEventRecord,
  groupField,
  isEventView,
  viewField,
} from '@tessera/core';
import type {
  FeatureValue,
  OfflineBatch,
  OnlineEvents,
  OnlineGroupEvents,
  OnlineWrite,
  RegisteredView,
  ValidatedBatch,
} from '@tessera/core';
import type { ServerTelemetry } from './server-telemetry.js';
import { CURRENT_GENERATION, viewAggregations } from './view-aggregations.js';

/**
 * Target online alone on an event view with aggregations: FAILED_PRECONDITION (its events would be
 * missing offline, where aggregations are computed from too).
 */
export function assertEventTargets(view: RegisteredView, online: boolean, offline: boolean, label: string): void {
  if (online && !offline && isEventView(view) && (view.aggregations?.length ?? 0) > 0) {
    throw new TesseraError(
      'FAILED_PRECONDITION',
      `Write to ${label}: aggregations are computed from the offline events too; write online and offline, or offline only for history (target WRITE_TARGET_OFFLINE)`,
    );
  }
}

/**
 * The event-view part of a Write (design §1.2, §1.3): the rows' fingerprints (when they go
 * offline) and, for a live write, each row's eligibility at `acceptedAtMillis`. A history write
 * (offline only) is always eligible. Excluded rows are counted in the metrics here, once per Write.
 */
export function eventRows(
  telemetry: ServerTelemetry | undefined,
  view: RegisteredView,
  batch: ValidatedBatch,
  online: boolean,
  offline: boolean,
  acceptedAtMillis: number,
): { offline: Pick<OfflineBatch, 'fingerprints' | 'exclusions'>; late: number; future: number } {
  const fingerprints = offline ? batchFingerprints(view, batch, batch.entityKeys) : undefined;
  if (!online) return { offline: fingerprints === undefined ? {} : { fingerprints }, late: 0, future: 0 };
  const { codes, counts } = batchExclusions(view, batch.eventTsMillis, acceptedAtMillis);
  telemetry?.metrics?.recordEventsExcluded(view.name, counts.late, counts.future);
  return {
    offline: fingerprints === undefined ? {} : { fingerprints, exclusions: codes },
    late: counts.late,
    future: counts.future,
  };
}

/**
 * The online half of a Write: each entity's latest row (last-writer-wins), and for an event view
 * with aggregations its eligible events in batch order (design §3.3), with `eventRows` mapping each
 * event to its offline row so write-behind records the fold's answer as `online_gen`.
 */
export function onlineWriteOf(
  view: RegisteredView,
  batch: ValidatedBatch,
  offline: Pick<OfflineBatch, 'fingerprints' | 'exclusions'> | undefined,
  acceptedAtMillis: number,
  replicas: number,
  /** The served tile generation of the view (design §3.6; default 1), and whether a rebuild into the next one runs (fold into both). */
  generations: { readonly generation: number; readonly dualWrite: boolean } = {
    generation: CURRENT_GENERATION,
    dualWrite: false,
  },
): OnlineWrite {
  const { generation, dualWrite } = generations;
  // A backfill may carry several events per entity; the LWW row is only the latest of each.
  const latest = batch.latestRowPerKey;
  const everyRow = latest.length === batch.rowCount;
  const keys = everyRow ? batch.entityKeys : latest.map((r) => batch.entityKeys[r] as string);
  const rows = everyRow ? batch.rows : latest.map((r) => batch.rows[r] as Uint8Array);
  const base = { field: viewField(view.id, view.version), ttlMillis: view.ttlSeconds * 1000, keys, rows };
  const aggregations = viewAggregations(view);
  const fps = offline?.fingerprints;
  if (aggregations === undefined || fps === undefined) return { batch: base, options: { replicas } };
  const keyIndex = new Map<string, number>();
  keys.forEach((key, i) => keyIndex.set(key, i));
  const entities: number[] = [];
  const records: Uint8Array[] = [];
  const eventRows: number[] = [];
  const values = new Array<FeatureValue>(view.features.length);
  for (let row = 0; row < batch.rowCount; row++) {
    if ((offline?.exclusions?.[row] ?? EXCLUSION_NONE) !== EXCLUSION_NONE) continue;
    for (let f = 0; f < values.length; f++) values[f] = batch.featureValues[f]?.[row] ?? null;
    const ts = batch.eventTsMillis[row] as number;
    const fp = fps.subarray(row * FINGERPRINT_BYTES, (row + 1) * FINGERPRINT_BYTES);
    records.push(encodeEventRecord(aggregations.layout, ts, fp, values));
    entities.push(keyIndex.get(batch.entityKeys[row] as string) as number);
    eventRows.push(row);
  }
  const events: OnlineEvents = {
    plan: aggregations.plan,
    generation,
    ...(dualWrite ? { dualWrite } : {}),
    acceptedAtMillis,
    latenessMillis: aggregations.latenessMillis,
    retentionMillis: aggregations.retentionMillis,
    entities,
    records,
  };
  const groupEvents = groupEventsOf(
    aggregations,
    base.field,
    batch,
    eventRows,
    entities,
    fps,
    acceptedAtMillis,
    generations,
  );
  return {
    batch: { ...base, events, ...(groupEvents.length > 0 ? { groupEvents } : {}) },
    options: { replicas },
    eventRows,
  };
}

/**
 * The events of a batch per group field (design §1.8): each eligible event once per group feature,
 * under the field of its group value, with the group's own record layout, into the view's served
 * generation (and the next one while a rebuild runs: §3.6 dual write, as the view's own fields).
 */
function groupEventsOf(
  aggregations: NonNullable<ReturnType<typeof viewAggregations>>,
  field: string,
  batch: ValidatedBatch,
  eventRows: readonly number[],
  entities: readonly number[],
  fps: Uint8Array,
  acceptedAtMillis: number,
  generations: { readonly generation: number; readonly dualWrite: boolean },
): OnlineGroupEvents[] {
  const out: OnlineGroupEvents[] = [];
  const values = new Array<FeatureValue>(batch.featureValues.length);
  for (const group of aggregations.groups) {
    const byField = new Map<string, { entities: number[]; records: Uint8Array[] }>();
    eventRows.forEach((row, e) => {
      for (let f = 0; f < values.length; f++) values[f] = batch.featureValues[f]?.[row] ?? null;
      const value = values[group.featureIndex] as string | bigint;
      const name = groupField(field, group.featureIndex, value);
      let part = byField.get(name);
      if (part === undefined) byField.set(name, (part = { entities: [], records: [] }));
      const fp = fps.subarray(row * FINGERPRINT_BYTES, (row + 1) * FINGERPRINT_BYTES);
      part.entities.push(entities[e] as number);
      part.records.push(encodeEventRecord(group.layout, batch.eventTsMillis[row] as number, fp, values));
    });
    for (const [name, part] of byField) {
      out.push({
        field: name,
        events: {
          plan: group.plan,
          generation: generations.generation,
          ...(generations.dualWrite ? { dualWrite: true } : {}),
          acceptedAtMillis,
          latenessMillis: aggregations.latenessMillis,
          retentionMillis: aggregations.retentionMillis,
          ...part,
        },
      });
    }
  }
  return out;
}
