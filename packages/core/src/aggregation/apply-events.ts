/**
 * The per-entity step of an event write (design §3.3 steps 2–6, the online event-write contract in
 * `online-store.ts`), pure: the TS twin the embedded store runs inside its write transaction and
 * the Redis script (`agg-write-2.lua`) mirrors byte for byte. The store reads the entity's fields
 * and pending list, gives a view of its dedup set, and stores what this returns.
 *
 *   2. forget dedup entries with ts < acceptedAt − L − 60 s;
 *   3. per event in batch order: fp known → duplicate (answered G); else remember it, and
 *      ts > acceptedAt → pending list, otherwise fold;
 *   4. fold pending events with ts ≤ acceptedAt, in (ts, fp) order, and drop them from the list;
 *   5. prune tiles no read at or after acceptedAt includes;
 *   6. report every field whose bytes changed (and the pending list, `null` when it became empty).
 *
 * While a rebuild G → G+1 runs (design §3.6 step 1, `next`): an event is a duplicate when its fp is
 * in either generation's set; every other event is remembered in both sets and folded into both
 * generations (each with its own fields and pending list), and answered G+1.
 */

import type { AggregationFields, AggregationPlan } from './entity-state.js';
import { foldEventIntoFields, pruneAggregationFields } from './entity-state.js';
import { decodeEventRecord, encodePendingList, eventRecordLayout, pendingListRecords } from './event-record.js';
import type { EventRecord, EventRecordLayout } from './event-record.js';
import { FINGERPRINT_BYTES } from './fingerprint.js';

/** Clock-skew margin between servers kept on top of L in the dedup set (§1.6). */
export const DEDUP_MARGIN_MILLIS = 60_000;

/** One entity's dedup set of one generation, as the store keeps it (fp → event ts). */
export interface EventDedupView {
  /** Forgets every entry whose event ts is below `minTsMillis`. */
  forgetOlderThan(minTsMillis: number): void;
  has(fp: Uint8Array): boolean;
  add(fp: Uint8Array, tsMillis: number): void;
}

/** One generation's state of an entity: what the fold reads and changes in place. */
export interface GenerationState {
  /** The entity's aggregation fields (names without the `<field>.g<G>.` prefix); changed in place. */
  readonly fields: AggregationFields;
  /** The generation's pending list (`pendingListField`), if any. */
  readonly pending: Uint8Array | undefined;
  readonly dedup: EventDedupView;
}

/** What the fold did to one generation. */
export interface GenerationResult {
  /** Names of the fields whose bytes differ from what was read (their new bytes are in `fields`). */
  readonly changed: readonly string[];
  /** The pending list changed: store `pending`, or delete the field when it is null (empty). */
  readonly pendingChanged: boolean;
  readonly pending: Uint8Array | null;
}

/** What {@link applyEntityEvents} asks of one entity. */
export interface EntityEventsInput {
  readonly plan: AggregationPlan;
  readonly generation: number;
  readonly acceptedAtMillis: number;
  readonly latenessMillis: number;
  /** The entity's aggregation fields (names without the `<field>.g<G>.` prefix); changed in place. */
  readonly fields: AggregationFields;
  /** The entity's pending list (`<field>.pend`), if any. */
  readonly pending: Uint8Array | undefined;
  readonly dedup: EventDedupView;
  /** The entity's event records (`encodeEventRecord`), in batch order. */
  readonly records: readonly Uint8Array[];
  /** While a rebuild into generation `generation + 1` runs: that generation's state (dual write). */
  readonly next?: GenerationState;
}

/** What the store writes back after {@link applyEntityEvents}. */
export interface EntityEventsResult {
  /** Names of the fields whose bytes differ from what was read (their new bytes are in `fields`). */
  readonly changed: readonly string[];
  /** The pending list changed: store `pending`, or delete the field when it is null (empty). */
  readonly pendingChanged: boolean;
  readonly pending: Uint8Array | null;
  /** Per record: the highest generation holding it online (G+1 for an event taken by a dual write). */
  readonly generations: readonly number[];
  /** With `next`: what the fold did to generation G+1. */
  readonly next?: GenerationResult;
  /** Records whose fp was already in the dedup set (this batch or an earlier one). */
  readonly duplicates: number;
  /** The newest event time among the records taken (not duplicates); -Infinity when none. */
  readonly newestEventTsMillis: number;
}

/** Applies one entity's events to its fields (design §3.3 steps 2–6; §3.6 step 1 with `next`). */
export function applyEntityEvents(input: EntityEventsInput): EntityEventsResult {
  const { plan, generation, acceptedAtMillis: now, dedup, records, next } = input;
  const layout = eventRecordLayout(plan);
  const forget = now - input.latenessMillis - DEDUP_MARGIN_MILLIS;
  dedup.forgetOlderThan(forget);
  next?.dedup.forgetOlderThan(forget);

  const generations = new Array<number>(records.length);
  let duplicates = 0;
  let newest = -Infinity;
  const taken: { bytes: Uint8Array; record: EventRecord }[] = [];
  const takenFps = new Set<string>();
  for (let i = 0; i < records.length; i++) {
    const bytes = records[i] as Uint8Array;
    const { record } = decodeEventRecord(layout, bytes);
    const hex = fingerprintHex(record.fp);
    // The highest generation holding a copy answers (§1.6); a copy taken by this call is in both.
    const inNext = next !== undefined && (next.dedup.has(record.fp) || takenFps.has(hex));
    if (inNext || dedup.has(record.fp) || takenFps.has(hex)) {
      generations[i] = inNext ? generation + 1 : generation;
      duplicates++;
      continue;
    }
    generations[i] = next === undefined ? generation : generation + 1;
    takenFps.add(hex);
    // A rebuild folds old events too: their fps could never recur eligibly, so no set keeps them.
    if (record.tsMillis >= forget) {
      dedup.add(record.fp, record.tsMillis);
      next?.dedup.add(record.fp, record.tsMillis);
    }
    if (record.tsMillis > newest) newest = record.tsMillis;
    taken.push({ bytes, record });
  }
  const result = foldGeneration(plan, layout, now, input, taken);
  const nextResult = next === undefined ? undefined : foldGeneration(plan, layout, now, next, taken);
  // Spelled out, not spread: the spreads cost most of this function's own time in a profile of
  // embedded writes (increment 13).
  const { changed, pendingChanged, pending } = result;
  return nextResult === undefined
    ? { changed, pendingChanged, pending, generations, duplicates, newestEventTsMillis: newest }
    : { changed, pendingChanged, pending, generations, duplicates, newestEventTsMillis: newest, next: nextResult };
}

/** Steps 3–6 for one generation: the taken events (batch order), its due pending events, pruning. */
function foldGeneration(
  plan: AggregationPlan,
  layout: EventRecordLayout,
  now: number,
  state: Pick<GenerationState, 'fields' | 'pending'>,
  taken: readonly { bytes: Uint8Array; record: EventRecord }[],
): GenerationResult {
  const { fields } = state;
  const before = new Map<string, Uint8Array>();
  for (const [name, bytes] of fields) before.set(name, new Uint8Array(bytes));
  const added: Uint8Array[] = [];
  for (const { bytes, record } of taken) {
    if (record.tsMillis > now) added.push(bytes);
    else foldEventIntoFields(plan, fields, record.tsMillis, record.fp, record.values);
  }
  const oldPending = state.pending === undefined ? [] : pendingListRecords(state.pending);

  // Step 4: the old list is sorted by (ts, fp); what the clock has passed is a prefix of it.
  let due = 0;
  while (due < oldPending.length && recordTs(oldPending[due] as Uint8Array) <= now) {
    const { record } = decodeEventRecord(layout, oldPending[due] as Uint8Array);
    foldEventIntoFields(plan, fields, record.tsMillis, record.fp, record.values);
    due++;
  }
  const pendingChanged = due > 0 || added.length > 0;
  const kept = pendingChanged ? [...oldPending.slice(due), ...added] : [];
  const pending = !pendingChanged
    ? (state.pending ?? null)
    : kept.length === 0
      ? null
      : encodePendingList(kept.map((r) => r.slice()));

  pruneAggregationFields(plan, fields, now);

  const changed: string[] = [];
  for (const [name, bytes] of fields) {
    const old = before.get(name);
    if (old === undefined || !sameBytes(old, bytes)) changed.push(name);
  }
  return { changed, pendingChanged, pending };
}

/**
 * Every field name the plan's fold may write (without the `<field>.g<G>.` prefix), in a fixed
 * order: what a store reads before the step and what a read fetches (with `<field>.pend`).
 */
export function aggregationFieldNames(plan: AggregationPlan): readonly string[] {
  const known = fieldNames.get(plan);
  if (known !== undefined) return known;
  const names: string[] = [];
  for (const hop of plan.hops) if (hop.layout.slots.length > 0) names.push(hop.field);
  if (plan.lifetime.slots.length > 0) names.push('life');
  for (const step of plan.steps) if (step.kind === 'hll' || step.kind === 'last_string') names.push(step.field);
  for (const field of plan.lastN.keys()) names.push(field);
  const unique = [...new Set(names)];
  fieldNames.set(plan, unique);
  return unique;
}

const fieldNames = new WeakMap<AggregationPlan, readonly string[]>();

/** A dedup view over a plain Map (fp hex → ts): tests, and stores that load the set whole. */
export function mapEventDedup(entries: Map<string, number>): EventDedupView {
  return {
    forgetOlderThan(minTsMillis) {
      for (const [fp, ts] of entries) if (ts < minTsMillis) entries.delete(fp);
    },
    has: (fp) => entries.has(fingerprintHex(fp)),
    add: (fp, ts) => {
      entries.set(fingerprintHex(fp), ts);
    },
  };
}

/** The 16 fingerprint bytes as 32 lowercase hex digits. */
export function fingerprintHex(fp: Uint8Array): string {
  return Buffer.from(fp.buffer, fp.byteOffset, FINGERPRINT_BYTES).toString('hex');
}

function recordTs(record: Uint8Array): number {
  return new DataView(record.buffer, record.byteOffset, 8).getFloat64(0, true);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
