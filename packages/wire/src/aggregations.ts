/**
 * Event views and window aggregations between core's model and their wire form (registry.proto
 * ViewKind, Aggregation, EventOptions).
 */
import {
  DEFAULT_ALLOWED_LATENESS_MILLIS,
  DEFAULT_FUTURE_TOLERANCE_MILLIS,
  type AggregationDef,
  type AggregationFunction,
  type AggregationState,
  type EventOptions,
  type FeatureViewDef,
  type Problem,
  type RegisteredAggregation,
  type ValueType as CoreValueType,
} from '@tessera/core/basics';
import {
  AggregationFunction as ProtoFunction,
  AggregationState as ProtoState,
  ViewKind,
  type Aggregation,
  type EventOptions as ProtoEventOptions,
} from '@tessera/proto';
import { fromProtoValueType, toProtoValueType } from './columns.js';

const FUNCTIONS: Readonly<Record<AggregationFunction, ProtoFunction>> = {
  count: ProtoFunction.AGGREGATION_FUNCTION_COUNT,
  sum: ProtoFunction.AGGREGATION_FUNCTION_SUM,
  mean: ProtoFunction.AGGREGATION_FUNCTION_MEAN,
  min: ProtoFunction.AGGREGATION_FUNCTION_MIN,
  max: ProtoFunction.AGGREGATION_FUNCTION_MAX,
  last: ProtoFunction.AGGREGATION_FUNCTION_LAST,
  last_n: ProtoFunction.AGGREGATION_FUNCTION_LAST_N,
  first_ts: ProtoFunction.AGGREGATION_FUNCTION_FIRST_TS,
  last_ts: ProtoFunction.AGGREGATION_FUNCTION_LAST_TS,
  approx_distinct: ProtoFunction.AGGREGATION_FUNCTION_APPROX_DISTINCT,
};
const FUNCTION_NAMES = new Map<number, AggregationFunction>(
  Object.entries(FUNCTIONS).map(([name, value]) => [value, name as AggregationFunction]),
);

/** The wire kind of a view (absent in the model = STATE). */
export function toProtoViewKind(view: FeatureViewDef): ViewKind {
  if (view.kind === 'on_demand') return ViewKind.VIEW_KIND_ON_DEMAND;
  if (view.kind === 'sql') return ViewKind.VIEW_KIND_SQL;
  return view.kind === 'events' ? ViewKind.VIEW_KIND_EVENTS : ViewKind.VIEW_KIND_STATE;
}

/** The model's kind (absent for STATE), or a problem for a kind this server does not know. */
export function fromProtoViewKind(
  kind: ViewKind,
  path: string,
  problems: Problem[],
): 'events' | 'on_demand' | 'sql' | undefined {
  if (kind === ViewKind.VIEW_KIND_EVENTS) return 'events';
  if (kind === ViewKind.VIEW_KIND_SQL) return 'sql';
  if (kind === ViewKind.VIEW_KIND_ON_DEMAND) return 'on_demand';
  if (kind !== ViewKind.VIEW_KIND_UNSPECIFIED && kind !== ViewKind.VIEW_KIND_STATE) {
    problems.push({
      path,
      message: `view kind ${kind} is unknown; use VIEW_KIND_STATE, VIEW_KIND_EVENTS, VIEW_KIND_SQL or VIEW_KIND_ON_DEMAND`,
    });
  }
  return undefined;
}

export function toProtoEventOptions(events: EventOptions | undefined): ProtoEventOptions | undefined {
  if (events === undefined) return undefined;
  return {
    allowedLatenessMillis: BigInt(events.allowedLatenessMillis),
    futureToleranceMillis: BigInt(events.futureToleranceMillis),
  };
}

/** Unset fields take the defaults (an unset message means defaults too: the model leaves it absent). */
export function fromProtoEventOptions(events: ProtoEventOptions | undefined): EventOptions | undefined {
  if (events === undefined) return undefined;
  return {
    allowedLatenessMillis:
      events.allowedLatenessMillis === undefined
        ? DEFAULT_ALLOWED_LATENESS_MILLIS
        : Number(events.allowedLatenessMillis),
    futureToleranceMillis:
      events.futureToleranceMillis === undefined
        ? DEFAULT_FUTURE_TOLERANCE_MILLIS
        : Number(events.futureToleranceMillis),
  };
}

/** An aggregation in wire form; registry fields are set when the aggregation is registered. */
export function toProtoAggregation(agg: AggregationDef | RegisteredAggregation): Aggregation {
  const registered = 'specVersion' in agg ? agg : undefined;
  return {
    name: agg.name,
    function: FUNCTIONS[agg.function],
    input: agg.input,
    windowMillis: BigInt(agg.windowMillis),
    hopMillis: BigInt(agg.hopMillis),
    n: agg.n,
    precision: agg.precision,
    groupBy: agg.groupBy,
    description: agg.description,
    tags: { ...agg.tags },
    type: registered === undefined ? 0 : toProtoValueType(registered.type),
    specVersion: registered?.specVersion ?? 0,
    state:
      registered === undefined
        ? ProtoState.AGGREGATION_STATE_UNSPECIFIED
        : registered.state === 'ready'
          ? ProtoState.AGGREGATION_STATE_READY
          : ProtoState.AGGREGATION_STATE_BACKFILLING,
  };
}

/** An aggregation as declared, from its wire form; an unknown function is a problem. */
export function fromProtoAggregation(agg: Aggregation, path: string, problems: Problem[]): AggregationDef {
  const fn = FUNCTION_NAMES.get(agg.function);
  if (fn === undefined) {
    problems.push({
      path: `${path}.function`,
      message: `aggregation function is not set or unknown (${agg.function}); expected one of the AggregationFunction values`,
    });
  }
  return {
    name: agg.name,
    // An unknown function was reported above; validation never sees it.
    function: fn ?? 'count',
    input: agg.input,
    windowMillis: Number(agg.windowMillis),
    hopMillis: Number(agg.hopMillis),
    n: agg.n,
    precision: agg.precision,
    groupBy: agg.groupBy,
    description: agg.description,
    tags: { ...agg.tags },
  };
}

/** A registered aggregation (as Registry.Get/List return it). */
export function fromProtoRegisteredAggregation(agg: Aggregation): RegisteredAggregation {
  const state: AggregationState = agg.state === ProtoState.AGGREGATION_STATE_BACKFILLING ? 'backfilling' : 'ready';
  const type: CoreValueType = fromProtoValueType(agg.type) ?? 'int64';
  return { ...fromProtoAggregation(agg, '', []), type, specVersion: agg.specVersion, state };
}
