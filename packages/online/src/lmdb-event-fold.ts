import type { Database } from 'lmdb';
import {
  TesseraError,
  DEDUP_MARGIN_MILLIS,
  aggregationFieldNames,
  applyEntityEvents,
  type AggregationFields,
  type OnlineEvents,
  type OnlineRebuildBatch,
  type OnlineRebuildResult,
  type AggregationPlan,
  type EntityEventsResult,
  type GenerationResult,
  type GenerationState,
  pendingListField,
  rebuildMarkerField,
} from '@tessera/core';
import { DedupEntry, dedupEntryField } from './lmdb-dedup-entry.js';
import {
  DEDUP_DEADLINE_SUFFIX,
  extendDeadline,
  moveDeadline,
  nextDeadline,
  prefixRange,
  steppedDeadline,
} from './lmdb-deadlines.js';
import {
  PENDING_PART,
  aggregationStateDeadline,
  aggregationStateField,
  decodeAggregationState,
  encodeAggregationState,
} from './lmdb-aggregation-state.js';

export { DEADLINE_STEP_MILLIS, DEDUP_DEADLINE_SUFFIX } from './lmdb-deadlines.js';

/** The databases of the LMDB store the event step touches (all in the caller's write transaction). */
export interface LmdbEventDatabases {
  readonly rows: Database<Buffer, string>;
  readonly deadlines: Database<number, string>;
  readonly byDeadline: Database<true, [number, string]>;
  /** Dedup sets of the layout before increment 13: `<entity>\0<field>\0<G>\0<fp hex>` → event ts (read to migrate, swept). */
  readonly dedup: Database<number, string>;
  /**
   * The environment may hold aggregation state in the per-field layout of increments 5–12 (one
   * entry per field, see {@link foldEntitySync}): then an entity without a state entry is looked
   * up there too, and migrated by its next write.
   */
  readonly legacyFields: boolean;
}

/**
 * Runs the per-entity event step (contract in core's `online-store.ts`, design §3.3–§3.5) for a
 * batch whose LWW rows the caller has just written, inside the same transaction. `entityPrefix(i)`
 * is the entry prefix `<keyPrefix><entity key>\0` of the batch's i-th key. With `dualWrite`, the
 * events new to both generations' sets go into G and G+1 (design §3.6 step 1).
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
  const generations = new Uint32Array(events.entities.length);
  let duplicateEvents = 0;
  for (const [entity, indexes] of byEntity) {
    const prefix = entityPrefix(entity);
    const write = (generation: number): GenerationEntries => ({ prefix, field, generation, plan: events.plan });
    const result = foldEntitySync(
      dbs,
      write(events.generation),
      events.dualWrite === true ? write(events.generation + 1) : undefined,
      events,
      indexes.map((e) => events.records[e] as Uint8Array),
    );
    indexes.forEach((e, i) => {
      generations[e] = result.generations[i] as number;
    });
    duplicateEvents += result.duplicates;
  }
  return { duplicateEvents, eventGenerations: generations };
}

/**
 * Stores rebuilt entities (contract in core's `OnlineRebuildBatch`, design §3.6 step 3) inside the
 * caller's write transaction: an entity whose `ok` marker exists is skipped; otherwise its snapshot
 * events fold into what the target generation holds (the delta of dual writes) by the live step at
 * the rebuild's `now`, and the marker is stored with the fields (same transaction: all or nothing).
 */
export function writeRebuiltSync(
  dbs: LmdbEventDatabases,
  batch: OnlineRebuildBatch,
  entityPrefix: (key: string) => string,
): OnlineRebuildResult {
  if (!Number.isInteger(batch.generation) || batch.generation < 1) {
    throw new TesseraError('INTERNAL', `Rebuild of field ${batch.field}: generation ${batch.generation} is not ≥ 1`);
  }
  const step = {
    acceptedAtMillis: batch.nowMillis,
    latenessMillis: batch.latenessMillis,
    retentionMillis: batch.retentionMillis,
  };
  let written = 0;
  let skipped = 0;
  for (const entity of batch.entities) {
    const prefix = entityPrefix(entity.key);
    const field = entity.field ?? batch.field; // a group field (§1.8) is rebuilt like the view's
    const marker = rebuildMarkerField(field, batch.generation);
    if (dbs.rows.doesExist(prefix + marker)) {
      skipped++;
      continue;
    }
    const target = { prefix, field, generation: batch.generation, plan: batch.plan };
    const result = foldEntitySync(dbs, target, undefined, step, entity.records);
    dbs.rows.putSync(prefix + marker, Buffer.from('1')); // as the Redis script writes it
    // The marker lives as long as the entity's rebuilt entries (the hash's rule in Redis).
    const newest = Math.max(result.newestEventTsMillis, batch.nowMillis);
    extendDeadline(dbs, prefix + marker, batch.retentionMillis === 0 ? 0 : newest + batch.retentionMillis);
    written++;
  }
  return { written, skipped };
}

/** Where one generation of one entity lives. */
interface GenerationEntries {
  readonly prefix: string;
  readonly field: string;
  readonly generation: number;
  readonly plan: AggregationPlan;
}

/** One generation's state as read: what the fold changes, and how it was stored. */
interface OpenGeneration extends GenerationState {
  readonly fields: AggregationFields;
  readonly dedup: DedupEntry;
  /** The state entry's key. */
  readonly stateEntry: string;
  /** The deadline the stored state entry records (0: none, or no entry). */
  readonly stateDeadline: number;
  /** The dedup value's key. */
  readonly dedupEntry: string;
  /** The entity's entries of the per-field layout (increment 5–12) that the state entry replaces. */
  readonly legacyEntries: readonly string[];
  /** The per-fp dedup set of the old layout that the dedup value replaces (its base), if any. */
  readonly legacyDedup:
    { readonly base: string; readonly keys: readonly string[]; readonly deadline: number } | undefined;
}

/**
 * One entity's event step over generation `g` (and `next`, a dual write): reads the generations'
 * state entries (design §3.5, increment 13: one entry per entity, field and generation), runs
 * core's `applyEntityEvents`, stores what changed and extends the deadlines (contract step 7).
 */
function foldEntitySync(
  dbs: LmdbEventDatabases,
  g: GenerationEntries,
  next: GenerationEntries | undefined,
  step: Pick<OnlineEvents, 'acceptedAtMillis' | 'latenessMillis' | 'retentionMillis'>,
  records: readonly Uint8Array[],
): EntityEventsResult {
  const names = aggregationFieldNames(g.plan);
  const state = openGeneration(dbs, g, names);
  const nextState = next === undefined ? undefined : openGeneration(dbs, next, names);
  const result = applyEntityEvents({
    plan: g.plan,
    generation: g.generation,
    acceptedAtMillis: step.acceptedAtMillis,
    latenessMillis: step.latenessMillis,
    fields: state.fields,
    pending: state.pending,
    dedup: state.dedup,
    records,
    ...(nextState === undefined ? {} : { next: nextState }),
  });
  const store = (at: OpenGeneration, done: GenerationResult) => {
    const newest = result.newestEventTsMillis;
    // The state entry. Its deadline (contract step 7): at least the entity's newest event +
    // retention, never shortened, none when the retention is 0; a migrated entity's starts at the
    // longest of its per-field entries' deadlines. The value records it, so no deadline read here.
    const migrated = at.legacyEntries.length > 0;
    let deadline = migrated ? migrateDeadlines(dbs, at.legacyEntries) : at.stateDeadline;
    if (newest !== -Infinity)
      deadline = nextDeadline(deadline, step.retentionMillis === 0 ? 0 : newest + step.retentionMillis);
    if (done.changed.length > 0 || done.pendingChanged || migrated || deadline !== at.stateDeadline) {
      const parts: [string, Uint8Array][] = [];
      for (const name of names) {
        const bytes = at.fields.get(name);
        if (bytes !== undefined) parts.push([name, bytes]);
      }
      if (done.pending !== null) parts.push([PENDING_PART, done.pending]);
      if (parts.length === 0) {
        dbs.rows.removeSync(at.stateEntry);
        deadline = 0;
      } else dbs.rows.putSync(at.stateEntry, encodeAggregationState(parts, deadline));
      moveDeadline(dbs, at.stateEntry, at.stateDeadline, deadline);
    }
    // The dedup value: rewritten when this write added an fp (it then drops the forgotten entries).
    // It lives until a copy of its newest entry would be late: L + 60 s after the later of the write
    // and its newest event (a pending event's copy is eligible until ts + L, which may be after
    // acceptedAt + L); a migrated set keeps at least its old deadline.
    const legacyDedup = at.legacyDedup;
    if (at.dedup.changed || legacyDedup !== undefined) {
      const wanted = Math.max(step.acceptedAtMillis, newest) + step.latenessMillis + DEDUP_MARGIN_MILLIS;
      let dedupDeadline = nextDeadline(at.dedup.storedDeadline, Math.max(wanted, legacyDedup?.deadline ?? 0));
      const bytes = at.dedup.encode(dedupDeadline);
      if (bytes === null) {
        dbs.rows.removeSync(at.dedupEntry);
        dedupDeadline = 0;
      } else dbs.rows.putSync(at.dedupEntry, bytes);
      moveDeadline(dbs, at.dedupEntry, at.dedup.storedDeadline, dedupDeadline);
      if (legacyDedup !== undefined) removeLegacyDedup(dbs, legacyDedup);
    }
  };
  store(state, result);
  if (nextState !== undefined && result.next !== undefined) store(nextState, result.next);
  return result;
}

/**
 * Reads one generation's state entry; in a store that may hold the per-field layout
 * (`legacyFields`) and has no state entry for it yet, the per-field entries instead (they are
 * replaced by the state entry when the step stores it).
 */
function openGeneration(dbs: LmdbEventDatabases, at: GenerationEntries, names: readonly string[]): OpenGeneration {
  const stateEntry = at.prefix + aggregationStateField(at.field, at.generation);
  const dedupEntry = at.prefix + dedupEntryField(at.field, at.generation);
  const storedDedup = dbs.rows.getBinary(dedupEntry);
  const dedup = new DedupEntry(storedDedup, dedupEntry);
  const legacyDedup = storedDedup === undefined && dbs.legacyFields ? openLegacyDedup(dbs, at, dedup) : undefined;
  // getBinary copies: the parts are views into a buffer of our own, which the fold may change in place.
  const stored = dbs.rows.getBinary(stateEntry);
  if (stored !== undefined) {
    const parts = decodeAggregationState(stored, stateEntry);
    const pending = parts.get(PENDING_PART);
    parts.delete(PENDING_PART);
    return {
      fields: parts,
      pending,
      dedup,
      stateEntry,
      stateDeadline: aggregationStateDeadline(stored),
      dedupEntry,
      legacyEntries: [],
      legacyDedup,
    };
  }
  const fields: AggregationFields = new Map();
  const legacyEntries: string[] = [];
  let pending: Uint8Array | undefined;
  if (dbs.legacyFields) {
    for (const name of names) {
      const entry = `${at.prefix}${at.field}.g${at.generation}.${name}`;
      const bytes = dbs.rows.getBinary(entry);
      if (bytes === undefined) continue;
      fields.set(name, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      legacyEntries.push(entry);
    }
    const pendEntry = at.prefix + pendingListField(at.field, at.generation);
    const pendStored = dbs.rows.getBinary(pendEntry);
    if (pendStored !== undefined) {
      pending = new Uint8Array(pendStored.buffer, pendStored.byteOffset, pendStored.byteLength);
      legacyEntries.push(pendEntry);
    }
  }
  return { fields, pending, dedup, stateEntry, stateDeadline: 0, dedupEntry, legacyEntries, legacyDedup };
}

/**
 * The per-fp dedup set of the old layout (`dedup` database, `<base><fp hex>` → ts), if the entity
 * has one: its entries go into `into` (as if added by this write, so the dedup value takes them
 * over; the forget bound still applies), and it is deleted when the value is stored.
 */
function openLegacyDedup(
  dbs: LmdbEventDatabases,
  at: GenerationEntries,
  into: DedupEntry,
): { base: string; keys: string[]; deadline: number } | undefined {
  const base = `${at.prefix}${at.field}\u0000${at.generation}\u0000`;
  const keys: string[] = [];
  for (const { key, value } of dbs.dedup.getRange(prefixRange(base))) {
    keys.push(key);
    into.add(Buffer.from(key.slice(base.length), 'hex'), value);
  }
  const deadline = dbs.deadlines.get(base + DEDUP_DEADLINE_SUFFIX);
  if (keys.length === 0 && deadline === undefined) return undefined;
  return { base, keys, deadline: deadline ?? 0 };
}

/** Deletes an old-layout dedup set and its deadline entry (its entries now live in the dedup value). */
function removeLegacyDedup(dbs: LmdbEventDatabases, legacy: { base: string; keys: readonly string[] }): void {
  for (const key of legacy.keys) dbs.dedup.removeSync(key);
  const entry = legacy.base + DEDUP_DEADLINE_SUFFIX;
  const old = dbs.deadlines.get(entry);
  if (old === undefined) return;
  dbs.byDeadline.removeSync([old, entry]);
  dbs.deadlines.removeSync(entry);
}

/**
 * Deletes the per-field entries the state entry now holds, with their deadlines, and returns the
 * deadline the state entry starts from: the longest of theirs (0, none, when one of them had none),
 * so the migration never shortens a lifetime.
 */
function migrateDeadlines(dbs: LmdbEventDatabases, legacyEntries: readonly string[]): number {
  let latest = 0;
  let persistent = false;
  for (const entry of legacyEntries) {
    const old = dbs.deadlines.get(entry);
    if (old === undefined) persistent = true;
    else {
      latest = Math.max(latest, old);
      dbs.byDeadline.removeSync([old, entry]);
      dbs.deadlines.removeSync(entry);
    }
    dbs.rows.removeSync(entry);
  }
  return persistent ? 0 : steppedDeadline(latest);
}

/** Deletes the dedup set a swept deadline entry stands for (`<dedup base>\0dedup`). */
export function removeDedupSet(dedup: Database<number, string>, deadlineEntry: string): void {
  const base = deadlineEntry.slice(0, -DEDUP_DEADLINE_SUFFIX.length);
  for (const key of [...dedup.getKeys(prefixRange(base))]) dedup.removeSync(key);
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
