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
  toAggregationSpec,
  viewField,
} from '@tessera/core';
import type { AggregationPlan, EventRecordLayout, RegisteredView } from '@tessera/core';

/** The tile generation written and read: 1 until rebuilds exist (design §3.6, increment 7). */
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
  /** The online fields of the current generation (`<fv>.g<G>.<name>`), then the pending list `<fv>.pend`. */
  readonly onlineFields: readonly string[];
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
  };
  compiled.set(view, result);
  return result;
}
