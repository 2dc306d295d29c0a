import type { Database } from 'lmdb';
import {
  TesseraError,
  DEDUP_MARGIN_MILLIS,
  aggregationFieldNames,
  applyEntityEvents,
  fingerprintHex,
  type AggregationFields,
  type EventDedupView,
  type OnlineEvents,
  type OnlineRebuildBatch,
  type OnlineRebuildResult,
  rebuildMarkerField,
} from '@tessera/core';

/** Ends the deadline entry of a dedup set: a sweep that reaches it deletes the set. */
export const DEDUP_DEADLINE_SUFFIX = '\u0000dedup';

/** The databases of the LMDB store the event step touches (all in the caller's write transaction). */
export interface LmdbEventDatabases {
  readonly rows: Database<Buffer, string>;
  readonly deadlines: Database<number, string>;
  readonly byDeadline: Database<true, [number, string]>;
  /** `<entity>\0<field>\0<G>\0<fp hex>` → event ts. */
  readonly dedup: Database<number, string>;
}

/**
 * Runs the per-entity event step (contract in core's `online-store.ts`, design §3.3–§3.5) for a
 * batch whose LWW rows the caller has just written, inside the same transaction. `entityPrefix(i)`
 * is the entry prefix `<keyPrefix><entity key>\0` of the batch's i-th key.
 */
export function writeEventsSync(
  dbs: LmdbEventDatabases,
  field: string,
  events: OnlineEvents,
  keyCount: number,
  entityPrefix: (index: number) => string,
): { duplicateEvents: number; eventGenerations: Uint32Array } {
  checkEvents(field, events, keyCount);
  const byEntity = new Map<number, number[]>();
  for (let e = 0; e < events.entities.length; e++) {
    const entity = events.entities[e] as number;
    const list = byEntity.get(entity);
    if (list === undefined) byEntity.set(entity, [e]);
    else list.push(e);
  }
  const names = aggregationFieldNames(events.plan);
  const g = `${field}.g${events.generation}.`;
  const generations = new Uint32Array(events.entities.length);
  let duplicateEvents = 0;
  for (const [entity, indexes] of byEntity) {
    const prefix = entityPrefix(entity);
    const fields: AggregationFields = new Map();
    for (const name of names) {
      const stored = dbs.rows.getBinary(prefix + g + name);
      if (stored !== undefined) fields.set(name, new Uint8Array(stored));
    }
    const pendEntry = `${prefix}${field}.pend`;
    const pendStored = dbs.rows.getBinary(pendEntry);
    const dedupBase = `${prefix}${field}\u0000${events.generation}\u0000`;
    const result = applyEntityEvents({
      plan: events.plan,
      generation: events.generation,
      acceptedAtMillis: events.acceptedAtMillis,
      latenessMillis: events.latenessMillis,
      fields,
      pending: pendStored === undefined ? undefined : new Uint8Array(pendStored),
      dedup: lmdbDedup(dbs.dedup, dedupBase),
      records: indexes.map((e) => events.records[e] as Uint8Array),
    });
    indexes.forEach((e, i) => {
      generations[e] = result.generations[i] as number;
    });
    duplicateEvents += result.duplicates;
    for (const name of result.changed) dbs.rows.putSync(prefix + g + name, toBuffer(fields.get(name) as Uint8Array));
    if (result.pendingChanged) {
      if (result.pending === null) dbs.rows.removeSync(pendEntry);
      else dbs.rows.putSync(pendEntry, toBuffer(result.pending));
    }
    // Expiry (contract step 7): every aggregation entry of the entity lives at least until its
    // newest event + retention; never shortened; persistent when the retention is 0.
    if (result.newestEventTsMillis !== -Infinity) {
      const deadline = events.retentionMillis === 0 ? 0 : result.newestEventTsMillis + events.retentionMillis;
      // (A view version's aggregation entries share one retention, so an entry without a deadline
      // while the retention is not 0 is a new one.)
      for (const entry of [...names.map((name) => prefix + g + name), pendEntry]) {
        if (dbs.rows.doesExist(entry)) extendDeadline(dbs, entry, deadline);
      }
    }
    // The dedup set lives until a copy of its newest entry would be late: L + 60 s after the later
    // of the write and its newest event (a pending event's copy is eligible until ts + L, which
    // may be after acceptedAt + L).
    extendDeadline(
      dbs,
      dedupBase + DEDUP_DEADLINE_SUFFIX,
      Math.max(events.acceptedAtMillis, result.newestEventTsMillis) + events.latenessMillis + DEDUP_MARGIN_MILLIS,
    );
  }
  return { duplicateEvents, eventGenerations: generations };
}

/**
 * Stores rebuilt entities (contract in core's `OnlineRebuildBatch`, design §3.6 step 3) inside the
 * caller's write transaction: an entity whose `ok` marker exists is skipped; otherwise its fields of
 * the target generation, its pending list, its dedup set and their deadlines are written as a live
 * event write would leave them, and the marker last (same transaction, so all or nothing).
 */
export function writeRebuiltSync(
  dbs: LmdbEventDatabases,
  batch: OnlineRebuildBatch,
  entityPrefix: (key: string) => string,
): OnlineRebuildResult {
  if (!Number.isInteger(batch.generation) || batch.generation < 1) {
    throw new TesseraError('INTERNAL', `Rebuild of field ${batch.field}: generation ${batch.generation} is not ≥ 1`);
  }
  const g = `${batch.field}.g${batch.generation}.`;
  const marker = rebuildMarkerField(batch.field, batch.generation);
  let written = 0;
  let skipped = 0;
  for (const entity of batch.entities) {
    const prefix = entityPrefix(entity.key);
    if (dbs.rows.doesExist(prefix + marker)) {
      skipped++;
      continue;
    }
    const deadline = batch.retentionMillis === 0 ? 0 : entity.newestEventTsMillis + batch.retentionMillis;
    const pendEntry = `${prefix}${batch.field}.pend`;
    const entries: string[] = [];
    for (const [name, bytes] of entity.fields) {
      dbs.rows.putSync(prefix + g + name, toBuffer(bytes));
      entries.push(prefix + g + name);
    }
    if (entity.pending === null) dbs.rows.removeSync(pendEntry);
    else {
      dbs.rows.putSync(pendEntry, toBuffer(entity.pending));
      entries.push(pendEntry);
    }
    const dedupBase = `${prefix}${batch.field}\u0000${batch.generation}\u0000`;
    for (const [fp, ts] of entity.dedup) dbs.dedup.putSync(dedupBase + fp, ts);
    dbs.rows.putSync(prefix + marker, Buffer.from('1')); // as the Redis script writes it
    entries.push(prefix + marker);
    if (entity.newestEventTsMillis !== -Infinity) {
      for (const entry of entries) extendDeadline(dbs, entry, deadline);
      extendDeadline(
        dbs,
        dedupBase + DEDUP_DEADLINE_SUFFIX,
        Math.max(batch.nowMillis, entity.newestEventTsMillis) + batch.latenessMillis + DEDUP_MARGIN_MILLIS,
      );
    }
    written++;
  }
  return { written, skipped };
}

/** Deletes the dedup set a swept deadline entry stands for (`<dedup base>\0dedup`). */
export function removeDedupSet(dedup: Database<number, string>, deadlineEntry: string): void {
  const base = deadlineEntry.slice(0, -DEDUP_DEADLINE_SUFFIX.length);
  for (const key of [...dedup.getKeys(prefixRange(base))]) dedup.removeSync(key);
}

/** Sets an entry's deadline to `deadline` unless it already lives longer (0 = persistent). */
function extendDeadline(dbs: LmdbEventDatabases, entry: string, deadline: number): void {
  const old = dbs.deadlines.get(entry);
  if (deadline === 0) {
    if (old !== undefined) {
      dbs.byDeadline.removeSync([old, entry]);
      dbs.deadlines.removeSync(entry);
    }
    return;
  }
  if (old !== undefined && old >= deadline) return;
  if (old !== undefined) dbs.byDeadline.removeSync([old, entry]);
  dbs.deadlines.putSync(entry, deadline);
  dbs.byDeadline.putSync([deadline, entry], true);
}

function lmdbDedup(db: Database<number, string>, base: string): EventDedupView {
  return {
    forgetOlderThan(minTsMillis) {
      const due: string[] = [];
      for (const { key, value } of db.getRange(prefixRange(base))) if (value < minTsMillis) due.push(key);
      for (const key of due) db.removeSync(key);
    },
    has: (fp) => db.get(base + fingerprintHex(fp)) !== undefined,
    add: (fp, ts) => {
      db.putSync(base + fingerprintHex(fp), ts);
    },
  };
}

/** The keys starting with `base` (which ends with NUL; hex digits follow it). */
function prefixRange(base: string): { start: string; end: string } {
  return { start: base, end: `${base.slice(0, -1)}\u0001` };
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkEvents(field: string, events: OnlineEvents, keyCount: number): void {
  if (events.entities.length !== events.records.length) {
    throw new TesseraError(
      'INTERNAL',
      `Online write to field ${field}: ${events.entities.length} event entities for ${events.records.length} records`,
    );
  }
  if (!Number.isInteger(events.generation) || events.generation < 1) {
    throw new TesseraError('INTERNAL', `Online write to field ${field}: generation ${events.generation} is not ≥ 1`);
  }
  for (const entity of events.entities) {
    if (!Number.isInteger(entity) || entity < 0 || entity >= keyCount) {
      throw new TesseraError(
        'INTERNAL',
        `Online write to field ${field}: event entity ${entity} is not a key of the batch`,
      );
    }
  }
}
