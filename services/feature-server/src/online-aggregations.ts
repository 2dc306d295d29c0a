/**
 * Window aggregations in GetOnlineFeatures (design §1.4, §1.5, §3.4): the view's aggregation
 * fields and pending list come back with the entity's other fields (one read per entity); per row
 * `t = max(now, newest event of the tile lists)`, the pending events with ts ≤ t are folded into a
 * copy of the fields, and every aggregation of the view is finalised at t. Status PRESENT always
 * (an empty window is a value: 0, null or an empty list by §1.7); the event timestamp is t.
 */
import {
  decodeEventRecord,
  foldEventIntoFields,
  pendingListRecords,
  readAggregations,
  tileListNewestEventTs,
} from '@tessera/core';
import type {
  AggregationFields,
  AggregationPlan,
  EventRecordLayout,
  FeatureValue,
  RegisteredView,
} from '@tessera/core';
import { TesseraError } from '@tessera/core';
import { CURRENT_GENERATION, onlineFieldsOf, viewAggregations } from './view-aggregations.js';
import type { GroupAggregations, ViewAggregations } from './view-aggregations.js';
import type { TileGenerations } from './tile-generations.js';

/** One view's aggregations read in a key group: where its fields sit in the group's field list. */
export interface AggregationRead {
  readonly view: RegisteredView;
  readonly compiled: ViewAggregations;
  /** Index into the group's fields of `compiled.onlineFields[0]` (the pending list is last). */
  readonly firstField: number;
}

/** Every aggregation of the view for `rows` rows: values per aggregation (plan order), and t per row. */
export interface AggregatedRows {
  readonly values: FeatureValue[][];
  readonly at: Float64Array;
}

/** Computes the view's aggregations for each entity row of a group's read. */
export function aggregateRows(
  read: AggregationRead,
  result: readonly (readonly (Uint8Array | null)[])[],
  base: number,
  rows: number,
  nowMillis: number,
): AggregatedRows {
  const { plan, layout, fieldNames } = read.compiled;
  return aggregateFieldRows(plan, layout, fieldNames, () => read.firstField, result, base, rows, nowMillis);
}

/** One group feature's aggregations read in a key group: the row's group fields follow the group's fields. */
export interface GroupAggregationRead {
  readonly view: RegisteredView;
  readonly group: GroupAggregations;
  /** The request's entity column carrying the group values. */
  readonly column: string;
}

/**
 * Computes one group feature's aggregations (§1.8) for each row of a key group's read: row i's
 * group fields start at `firstField(i)` of its result row.
 */
export function aggregateGroupRows(
  read: GroupAggregationRead,
  firstField: (row: number) => number,
  result: readonly (readonly (Uint8Array | null)[])[],
  base: number,
  rows: number,
  nowMillis: number,
): AggregatedRows {
  const { plan, layout, fieldNames } = read.group;
  return aggregateFieldRows(plan, layout, fieldNames, firstField, result, base, rows, nowMillis);
}

function aggregateFieldRows(
  plan: AggregationPlan,
  layout: EventRecordLayout,
  names: readonly string[],
  firstField: (row: number) => number,
  result: readonly (readonly (Uint8Array | null)[])[],
  base: number,
  rows: number,
  nowMillis: number,
): AggregatedRows {
  const values = plan.specs.map(() => new Array<FeatureValue>(rows));
  const at = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const row = result[base + i] as readonly (Uint8Array | null)[];
    const first = firstField(i);
    const fields: AggregationFields = new Map();
    for (let k = 0; k < names.length; k++) {
      const bytes = row[first + k];
      if (bytes !== null && bytes !== undefined) fields.set(names[k] as string, bytes);
    }
    let t = nowMillis;
    for (const hop of plan.hops) {
      const list = fields.get(hop.field);
      if (list !== undefined) t = Math.max(t, tileListNewestEventTs(list));
    }
    const pending = row[first + names.length];
    if (pending !== null && pending !== undefined) {
      const due = pendingListRecords(pending)
        .map((r) => decodeEventRecord(layout, r).record)
        .filter((r) => r.tsMillis <= t);
      if (due.length > 0) {
        // Folding changes tile lists in place: fold into copies, the read's bytes stay as read (`new
        // Uint8Array(bytes)` copies; a Buffer's `slice()` would be a view of the same memory).
        for (const [name, bytes] of fields) fields.set(name, new Uint8Array(bytes));
        for (const r of due) foldEventIntoFields(plan, fields, r.tsMillis, r.fp, r.values);
      }
    }
    const served = readAggregations(plan, fields, t);
    for (let a = 0; a < served.length; a++) (values[a] as FeatureValue[])[i] = served[a] ?? null;
    at[i] = t;
  }
  return { values, at };
}

/**
 * The fields a key group reads: the read plan's own (generation 1), or with each view's aggregation
 * fields of its served generation (design §3.6; same positions: every generation has the same list).
 */
export function servedFields(
  fields: readonly string[],
  aggregations: readonly AggregationRead[],
  generations: TileGenerations | undefined,
): readonly string[] {
  if (generations === undefined || aggregations.length === 0) return fields;
  let served: string[] | undefined;
  for (const read of aggregations) {
    const generation = generations.of(read.view);
    if (generation === CURRENT_GENERATION) continue;
    served ??= [...fields];
    const names = onlineFieldsOf(read.compiled, generation);
    for (let k = 0; k < names.length; k++) served[read.firstField + k] = names[k] as string;
  }
  return served ?? fields;
}

/**
 * Where the view's aggregation `aggregationIndex` (registry order) is computed online: its group
 * (§1.8; undefined for an ungrouped one) and its index in that plan.
 */
export function onlinePlanIndex(
  view: RegisteredView,
  aggregationIndex: number,
): { readonly group: GroupAggregations | undefined; readonly index: number } {
  const compiled = viewAggregations(view);
  const slot = compiled?.groupSlots[aggregationIndex] ?? -1;
  const group = slot < 0 ? undefined : compiled?.groups[slot];
  const index = (group === undefined ? compiled?.planIndexes : group.planIndexes)?.[aggregationIndex] ?? -1;
  if (index < 0)
    throw new TesseraError('INTERNAL', `${view.name}@${view.version} has no aggregation #${aggregationIndex}`);
  return { group, index };
}

/** Each view's aggregation read of a key group; appends its fields (generation 1) to `fields`. */
export function aggregationReads(views: readonly RegisteredView[], fields: string[]): AggregationRead[] {
  return views.map((view): AggregationRead => {
    const read = viewAggregations(view);
    if (read === undefined) throw new TesseraError('INTERNAL', `${view.name}@${view.version} has no aggregations`);
    const firstField = fields.length;
    fields.push(...read.onlineFields);
    return { view, compiled: read, firstField };
  });
}
