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
  isEventView,
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
  readonly plan: AggregationPlan;
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
  const plan = compileAggregationPlan(aggregations.map((a) => toAggregationSpec(a, view.features)));
  const latenessMillis = effectiveEventOptions(view).allowedLatenessMillis;
  const unbounded = plan.specs.some((s) => s.windowMillis === UNBOUNDED_WINDOW);
  const maxWindow = Math.max(...plan.specs.map((s) => s.windowMillis));
  const maxHop = Math.max(...plan.specs.map((s) => s.hopMillis));
  const field = viewField(view.id, view.version);
  const result: ViewAggregations = {
    plan,
    layout: eventRecordLayout(plan),
    latenessMillis,
    retentionMillis: unbounded ? 0 : maxWindow + 2 * maxHop + latenessMillis,
    fieldNames: aggregationFieldNames(plan),
    onlineFields: [
      ...aggregationFieldNames(plan).map((name) => `${field}.g${CURRENT_GENERATION}.${name}`),
      `${field}.pend`,
    ],
    field,
    fieldsByGeneration: new Map(),
  };
  compiled.set(view, result);
  return result;
}
