/**
 * An event view's window aggregations as the write and read paths use them (design §3.1–§3.4):
 * compiled once per view version (the registry's view object), shared by both paths.
 */
import {
  UNBOUNDED_WINDOW,
  aggregationFieldNames,
  compileAggregationPlan,
  effectiveEventOptions,
  eventRecordLayout,
  groupedAggregationIndexes,
  isEventView,
  onlineAggregationIndexes,
  pendingListField,
  toAggregationSpec,
  viewField,
} from '@tessera/core';
import type { AggregationPlan, EventRecordLayout, RegisteredView } from '@tessera/core';

/**
 * The first tile generation of a view version (design §3.6); `tessera materialize --aggregations`
 * rebuilds into the next one and switches the served generation (`TileGenerations`).
 */
export const CURRENT_GENERATION = 1;

/** An event view's aggregations compiled once per view version (the registry's view object). */
export interface ViewAggregations {
  /** The ungrouped aggregations (`onlineAggregationIndexes`; may be none); grouped ones are in `groups`. */
  readonly plan: AggregationPlan;
  /** Registry aggregation index → index in `plan.specs`; −1 for a grouped aggregation. */
  readonly planIndexes: readonly number[];
  /** Per group feature, its aggregations (design §1.8), kept under group fields (`groupField`). */
  readonly groups: readonly GroupAggregations[];
  /** Registry aggregation index → its slot in `groups`; −1 for an ungrouped aggregation. */
  readonly groupSlots: readonly number[];
  readonly layout: EventRecordLayout;
  readonly latenessMillis: number;
  /** §3.1: max window + 2 × max hop + L after the newest event; 0 with an unbounded window. */
  readonly retentionMillis: number;
  /** The plan's field names (`aggregationFieldNames`), aligned with the first `onlineFields`. */
  readonly fieldNames: readonly string[];
  /** The online fields of generation 1 (`<fv>.g1.<name>`), then the pending list `<fv>.pend`. */
  readonly onlineFields: readonly string[];
  /** The view version's field (`viewField`). */
  readonly field: string;
  /** `onlineFields` of other generations, built on first use. */
  readonly fieldsByGeneration: Map<number, readonly string[]>;
}

/**
 * The aggregations grouped by one feature (§1.8): their own plan and record layout, folded per
 * (entity, group value) under the group field. Group fields follow the view's served generation
 * (§3.6): the tile rebuild rebuilds them with the view's fields, live writes dual-write them, and
 * the switch moves them too.
 */
export interface GroupAggregations {
  /** The group feature (a not_null string or int64 feature of the view) and its storage index. */
  readonly feature: string;
  readonly featureIndex: number;
  readonly type: 'string' | 'int64';
  readonly plan: AggregationPlan;
  readonly layout: EventRecordLayout;
  /** Registry aggregation index → index in `plan.specs`; −1 for the others. */
  readonly planIndexes: readonly number[];
  /** The plan's field names (`aggregationFieldNames`). */
  readonly fieldNames: readonly string[];
}

/** The fields of one group value in `generation` (`<group field>.g<G>.<name>`), then its pending list. */
export function groupFieldsOf(group: GroupAggregations, field: string, generation: number): string[] {
  const out = group.fieldNames.map((name) => `${field}.g${generation}.${name}`);
  out.push(pendingListField(field, generation));
  return out;
}

/** The online fields of generation `generation` (`<fv>.g<G>.<name>`), then its pending list. */
export function onlineFieldsOf(compiled: ViewAggregations, generation: number): readonly string[] {
  if (generation === CURRENT_GENERATION) return compiled.onlineFields;
  let fields = compiled.fieldsByGeneration.get(generation);
  if (fields === undefined) {
    fields = [
      ...compiled.fieldNames.map((name) => `${compiled.field}.g${generation}.${name}`),
      pendingListField(compiled.field, generation),
    ];
    compiled.fieldsByGeneration.set(generation, fields);
  }
  return fields;
}

const compiled = new WeakMap<RegisteredView, ViewAggregations | null>();

/** The view's compiled aggregations (cached by view object), or undefined when it has none. */
export function viewAggregations(view: RegisteredView): ViewAggregations | undefined {
  const known = compiled.get(view);
  if (known !== undefined) return known ?? undefined;
  const aggregations = isEventView(view) ? (view.aggregations ?? []) : [];
  if (aggregations.length === 0) {
    compiled.set(view, null);
    return undefined;
  }
  const online = onlineAggregationIndexes(aggregations);
  const plan = compileAggregationPlan(online.map((i) => toAggregationSpec(aggregations[i]!, view.features)));
  const planIndexes = aggregations.map((_, i) => online.indexOf(i));
  const grouped = groupedAggregationIndexes(aggregations);
  const groupFeatures = grouped.map((g) => g.feature);
  const groups = grouped.map(({ feature, indexes: members }): GroupAggregations => {
    const groupPlan = compileAggregationPlan(members.map((i) => toAggregationSpec(aggregations[i]!, view.features)));
    const featureIndex = view.features.findIndex((f) => f.name === feature);
    return {
      feature,
      featureIndex,
      type: view.features[featureIndex]?.type === 'int64' ? 'int64' : 'string',
      plan: groupPlan,
      layout: eventRecordLayout(groupPlan),
      planIndexes: aggregations.map((_, i) => members.indexOf(i)),
      fieldNames: aggregationFieldNames(groupPlan),
    };
  });
  const groupSlots = aggregations.map((a) => groupFeatures.indexOf(a.groupBy));
  const latenessMillis = effectiveEventOptions(view).allowedLatenessMillis;
  // One retention for the whole view (base and group fields share the entity's hash).
  const specs = [plan, ...groups.map((g) => g.plan)].flatMap((p) => p.specs);
  const unbounded = specs.some((s) => s.windowMillis === UNBOUNDED_WINDOW);
  const maxWindow = Math.max(...specs.map((s) => s.windowMillis));
  const maxHop = Math.max(...specs.map((s) => s.hopMillis));
  const field = viewField(view.id, view.version);
  const result: ViewAggregations = {
    plan,
    planIndexes,
    groups,
    groupSlots,
    layout: eventRecordLayout(plan),
    latenessMillis,
    retentionMillis: unbounded ? 0 : maxWindow + 2 * maxHop + latenessMillis,
    fieldNames: aggregationFieldNames(plan),
    onlineFields: [
      ...aggregationFieldNames(plan).map((name) => `${field}.g${CURRENT_GENERATION}.${name}`),
      pendingListField(field, CURRENT_GENERATION),
    ],
    field,
    fieldsByGeneration: new Map(),
  };
  compiled.set(view, result);
  return result;
}
