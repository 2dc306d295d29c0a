/**
 * The online store contract. Both implementations (Redis Cluster and embedded LMDB) pass one
 * behavioural suite. The store knows nothing of features: it keeps, per entity key, one packed
 * row per feature view version (a "field"), and compares event timestamps for last-writer-wins.
 *
 * A packed row starts with a 9-byte header: byte 0 the row format version, bytes 1–8 the event
 * timestamp in milliseconds as a little-endian float64 (exact for every integer millisecond of
 * the next 285,000 years, and readable by Redis Lua's `struct.unpack('<d', …)`).
 */

import type { AggregationPlan } from './aggregation/entity-state.js';

/** One entity hash and the view fields wanted from it. */
export interface OnlineLookup {
  /** Entity key from `entityKey()`, hash tag included; the store adds its own key prefix. */
  readonly key: string;
  /** View fields from `viewField()`. */
  readonly fields: readonly string[];
}

/** Rows of one view version for many entities; the batch holds no key twice. */
export interface OnlineWriteBatch {
  /** The view version's field (`viewField()`). */
  readonly field: string;
  /** The view's TTL in ms; 0 = never expires. The store may drop a row `retentionMillis(ttl)` after its event time. */
  readonly ttlMillis: number;
  readonly keys: readonly string[];
  /** Packed rows, aligned with keys; each starts with the header above. */
  readonly rows: readonly Uint8Array[];
  /**
   * An event view with window aggregations: its eligible events, folded into the entities'
   * aggregation fields in the same atomic step per entity as the entity's row (design §3.3).
   */
  readonly events?: OnlineEvents;
  /**
   * Grouped aggregations (design §1.8): per group field (`groupField`, one per group feature and
   * value in the batch), its events folded exactly as `events` are, under the group field instead
   * of `field` and with no LWW row (the stores' same step per (entity, group field)). Their
   * duplicates and generations are not reported: `events` answers for every event.
   */
  readonly groupEvents?: readonly OnlineGroupEvents[];
}

/** The events of one group field of a batch (see `OnlineWriteBatch.groupEvents`). */
export interface OnlineGroupEvents {
  /** The group field (`groupField(field, feature index, value)`). */
  readonly field: string;
  /** The group feature's aggregations' events; `entities` index the batch's keys. */
  readonly events: OnlineEvents;
}

/**
 * The eligible events of one Write of an event view (docs/design/window-aggregations.md §1.3–§1.6,
 * §3.3). Per entity, in one atomic step with its LWW row: drop dedup entries older than
 * `acceptedAt − L − 60 s`; per event, skip it when its fp is in the entity's dedup set of the
 * generation (a duplicate, answered with the generation its first copy entered), else add the fp
 * and fold it (ts ≤ acceptedAt) or keep it in the pending list (ts > acceptedAt); fold pending
 * events the clock has passed; prune tiles no future read includes; store every changed field
 * (`<field>.g<G>.<name>`, names of `AggregationFields`; the pending list `pendingListField`).
 * With `nextGeneration` (a rebuild G → G+1 runs, §3.6 step 1): an event whose fp is in either
 * generation's set is a duplicate; every other event goes into both sets and both generations.
 */
export interface OnlineEvents {
  /** The view version's compiled aggregations (`compileAggregationPlan`). */
  readonly plan: AggregationPlan;
  /** The tile generation written (≥ 1; §3.6). */
  readonly generation: number;
  /** While a rebuild into `generation + 1` runs (after this server saw it): true, a dual write. */
  readonly dualWrite?: boolean;
  /** The Write's acceptance time (§1.3); the fold's "now". */
  readonly acceptedAtMillis: number;
  /** The view's allowed lateness L: dedup entries are kept L + 60 s. */
  readonly latenessMillis: number;
  /**
   * How long after the newest event the aggregation fields are kept (§3.1: max window + 2 × max
   * hop + L); 0 = persistent (an unbounded aggregation).
   */
  readonly retentionMillis: number;
  /** Per event: the index into the batch's `keys` of its entity. Every entity with events has a row in the batch. */
  readonly entities: readonly number[];
  /** Per event: its record (`encodeEventRecord` with `eventRecordLayout(plan)`). */
  readonly records: readonly Uint8Array[];
}

export interface OnlineReadOptions {
  /** Absolute deadline (ms since epoch); the store gives up with DEADLINE_EXCEEDED after it. */
  readonly deadlineMillis?: number;
}

export interface OnlineWriteOptions extends OnlineReadOptions {
  /**
   * Wait until this many replicas acknowledged the write (Redis `WAIT`) before resolving, so a
   * master failover cannot lose it. 0 = do not wait. Ignored by stores without replicas.
   */
  readonly replicas?: number;
}

export interface OnlineWriteResult {
  /** Rows stored (their event time was not older than the stored row's). */
  readonly applied: number;
  /** Rows ignored because a newer event was already stored. */
  readonly stale: number;
  /** With `events`: events skipped because their fp was already in the entity's dedup set. */
  readonly duplicateEvents?: number;
  /**
   * With `events`: per event, the generation that holds it online (`online_gen`, §1.6): the one
   * written, or for a duplicate the one its first copy entered.
   */
  readonly eventGenerations?: Uint32Array;
}

/** One entity's snapshot events of a rebuild (design §3.6 step 3). */
export interface RebuiltEntity {
  /** Entity key from `entityKey()`. */
  readonly key: string;
  /**
   * The field rebuilt, when not the batch's: one group field of the entity (§1.8,
   * `groupField()`; its own `ok` marker and dedup set), whose events are records of the batch's plan.
   */
  readonly field?: string;
  /** Its snapshot events (`encodeEventRecord`), deduplicated, in (ts, fp) order. */
  readonly records: readonly Uint8Array[];
}

/**
 * A batch of entities of one view version rebuilt into generation `generation`
 * (`tessera materialize --aggregations`). Per entity, atomically: if `<field>.g<G>.ok` exists the
 * entity is skipped (a resumed part never merges twice); else its snapshot events are folded into
 * what the generation already holds — the delta live dual writes collected since the rebuild began
 * (§3.6 step 1) — by the live event step at `nowMillis` (duplicates of the delta skipped, fps a live
 * copy could still bring back remembered in the generation's dedup set), and the `ok` marker is
 * stored with the fields.
 */
export interface OnlineRebuildBatch {
  /** The view version's field (`viewField()`); an entity's own `field` replaces it for that entity. */
  readonly field: string;
  /** The compiled aggregations of the fields rebuilt (the view's ungrouped ones, or one group feature's). */
  readonly plan: AggregationPlan;
  readonly generation: number;
  /** The rebuild's "now" (the same for every part of one rebuild, resumed or not). */
  readonly nowMillis: number;
  readonly latenessMillis: number;
  /** As {@link OnlineEvents.retentionMillis}. */
  readonly retentionMillis: number;
  readonly entities: readonly RebuiltEntity[];
}

/** What {@link OnlineStore.writeRebuilt} did. */
export interface OnlineRebuildResult {
  /** Entities written. */
  readonly written: number;
  /** Entities skipped: their `ok` marker was already there. */
  readonly skipped: number;
}

/**
 * The pending list of generation `generation` (§1.5): `<field>.pend` for generation 1 (as stored
 * before rebuilds existed), `<field>.g<G>.pend` after, so each generation of a dual write (§3.6)
 * keeps its own.
 */
export function pendingListField(field: string, generation: number): string {
  return generation === 1 ? `${field}.pend` : `${field}.g${generation}.pend`;
}

/** The field of an entity that marks its rebuild into generation `generation` complete. */
export function rebuildMarkerField(field: string, generation: number): string {
  return `${field}.g${generation}.ok`;
}

export interface OnlineStore {
  /**
   * Reads the packed rows of the given fields. Result[i][j] is lookups[i].fields[j]'s row, or
   * null when absent. Throws TesseraError UNAVAILABLE when the store cannot be reached.
   */
  read(lookups: readonly OnlineLookup[], options?: OnlineReadOptions): Promise<(Uint8Array | null)[][]>;
  /**
   * Writes a batch with last-writer-wins by event timestamp: a row replaces the stored row of its
   * field only if its event timestamp is not older; the entity's other fields are untouched.
   */
  write(batch: OnlineWriteBatch, options?: OnlineWriteOptions): Promise<OnlineWriteResult>;
  /** Stores rebuilt aggregation state (design §3.6); stores without it cannot rebuild tiles. */
  writeRebuilt?(batch: OnlineRebuildBatch, options?: OnlineWriteOptions): Promise<OnlineRebuildResult>;
  /** Resolves once the store answers (used by health checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How long after its event time a row may be dropped: two TTLs, so readers can still tell EXPIRED from NOT_FOUND. */
export function retentionMillis(ttlMillis: number): number {
  return ttlMillis * 2;
}
