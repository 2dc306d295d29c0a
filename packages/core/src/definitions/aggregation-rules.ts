/**
 * The registry's rules for window aggregations (docs/design/window-aggregations.md §1.4, §1.7,
 * §2.2): limits, the default hop, input and result types, and the one-line form used in apply
 * output and History. Pure data and arithmetic; the window math itself lives in core/aggregation.
 */
import type {
  AggregationDef,
  AggregationFunction,
  EventOptions,
  FeatureViewDef,
  RegisteredAggregation,
  ValueType,
} from '../model.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Default and maximum of `allowed_lateness` (§1.3). */
export const DEFAULT_ALLOWED_LATENESS_MILLIS = HOUR;
export const MAX_ALLOWED_LATENESS_MILLIS = 7 * DAY;
/** Default and maximum of `future_tolerance` (§1.3). */
export const DEFAULT_FUTURE_TOLERANCE_MILLIS = MINUTE;
export const MAX_FUTURE_TOLERANCE_MILLIS = HOUR;

/** Hops a definition may name (`hop:`), smallest first. */
export const ALLOWED_HOPS_MILLIS: readonly number[] = [MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, DAY];
/** Longest bounded window. */
export const MAX_WINDOW_MILLIS = 400 * DAY;
/** Most tiles one window spans (7 d at 5 min). */
export const MAX_TILES_PER_WINDOW = 2_016;
/** Per-view limits (§2.2). */
export const MAX_AGGREGATIONS_PER_VIEW = 64;
export const MAX_DISTINCT_HOPS_PER_VIEW = 4;
export const MAX_APPROX_DISTINCT_PER_VIEW = 8;
/** last_n bounds and approx_distinct precision bounds (§1.7). */
export const MAX_LAST_N = 100;
export const MIN_HLL_PRECISION = 10;
export const MAX_HLL_PRECISION = 14;
export const DEFAULT_HLL_PRECISION = 12;

/** The eligibility options of an event view, defaults filled in. */
export function effectiveEventOptions(view: FeatureViewDef): EventOptions {
  return {
    allowedLatenessMillis: view.events?.allowedLatenessMillis ?? DEFAULT_ALLOWED_LATENESS_MILLIS,
    futureToleranceMillis: view.events?.futureToleranceMillis ?? DEFAULT_FUTURE_TOLERANCE_MILLIS,
  };
}

/** The default hop of a bounded window (§1.4): W < 12 h → 5 min; W < 12 d → 1 h; otherwise 1 d. */
export function defaultHopMillis(windowMillis: number): number {
  if (windowMillis < 12 * HOUR) return 5 * MINUTE;
  if (windowMillis < 12 * DAY) return HOUR;
  return DAY;
}

/** The hop an aggregation uses: its own, or the default; 0 for an unbounded window. */
export function effectiveHopMillis(agg: Pick<AggregationDef, 'windowMillis' | 'hopMillis'>): number {
  if (agg.windowMillis === 0) return 0;
  return agg.hopMillis !== 0 ? agg.hopMillis : defaultHopMillis(agg.windowMillis);
}

/** What an aggregation function accepts as input. */
export interface InputRule {
  /** `none`: no input allowed; `optional`: count (of non-null inputs when given); `required`. */
  readonly presence: 'none' | 'optional' | 'required';
  /** Allowed input types (any type for an optional count input). */
  readonly types: readonly ValueType[];
  /** How the types are named in messages: "an int64 or double input". */
  readonly described: string;
}

const NUMERIC: readonly ValueType[] = ['int64', 'double'];
const INPUT_RULES: Readonly<Record<AggregationFunction, InputRule>> = {
  count: { presence: 'optional', types: [], described: 'any input' },
  sum: { presence: 'required', types: NUMERIC, described: 'an int64 or double input' },
  mean: { presence: 'required', types: NUMERIC, described: 'an int64 or double input' },
  min: {
    presence: 'required',
    types: ['int64', 'double', 'timestamp'],
    described: 'an int64, double or timestamp input',
  },
  max: {
    presence: 'required',
    types: ['int64', 'double', 'timestamp'],
    described: 'an int64, double or timestamp input',
  },
  last: {
    presence: 'required',
    types: ['int64', 'double', 'string', 'bool', 'timestamp'],
    described: 'a scalar input (int64, double, string, bool or timestamp)',
  },
  last_n: {
    presence: 'required',
    types: ['int64', 'double', 'string', 'timestamp'],
    described: 'an int64, double, string or timestamp input',
  },
  first_ts: { presence: 'none', types: [], described: 'no input' },
  last_ts: { presence: 'none', types: [], described: 'no input' },
  approx_distinct: { presence: 'required', types: ['int64', 'string'], described: 'an int64 or string input' },
};

/** The input rule of a function (§1.7's table). */
export function inputRule(fn: AggregationFunction): InputRule {
  return INPUT_RULES[fn];
}

/** The result type of a function over an input type (§1.7's table); inputType is ignored where none. */
export function aggregationResultType(fn: AggregationFunction, inputType: ValueType | undefined): ValueType {
  switch (fn) {
    case 'count':
    case 'approx_distinct':
      return 'int64';
    case 'mean':
      return 'double';
    case 'first_ts':
    case 'last_ts':
      return 'timestamp';
    case 'sum':
    case 'min':
    case 'max':
    case 'last':
      return inputType ?? 'double';
    case 'last_n':
      if (inputType === 'double') return 'double_list';
      if (inputType === 'string') return 'string_list';
      return 'int64_list'; // int64, and timestamps as ms
  }
}

/** An aggregation with its assigned fields; the input's type comes from the view. */
export function registerAggregation(
  agg: AggregationDef,
  inputType: ValueType | undefined,
  specVersion: number,
): RegisteredAggregation {
  return {
    name: agg.name,
    function: agg.function,
    input: agg.input,
    windowMillis: agg.windowMillis,
    hopMillis: effectiveHopMillis(agg),
    n: agg.n,
    precision: agg.function === 'approx_distinct' && agg.precision === 0 ? DEFAULT_HLL_PRECISION : agg.precision,
    groupBy: agg.groupBy,
    description: agg.description,
    tags: { ...agg.tags },
    type: aggregationResultType(agg.function, inputType),
    specVersion,
    // Nothing serves aggregations online before the tile rebuild exists (design §6.1, increment 7).
    state: 'ready',
  };
}

/** A duration as definitions write it: `30d`, `1h`, `90m`, `45s`, `1500ms`; 0 → `unbounded`. */
export function formatWindow(millis: number): string {
  if (millis === 0) return 'unbounded';
  for (const [unit, size] of [
    ['d', DAY],
    ['h', HOUR],
    ['m', MINUTE],
    ['s', SECOND],
  ] as const) {
    if (millis % size === 0) return `${millis / size}${unit}`;
  }
  return `${millis}ms`;
}

/**
 * The one-line shape of an aggregation (what decides its values): `sum amount 30d/1d`,
 * `count 7d/1h`, `last_n(5) rating unbounded`, `… by category`. Uses the effective hop/precision.
 */
export function describeAggregationShape(agg: AggregationDef): string {
  const fn =
    agg.function === 'last_n'
      ? `last_n(${agg.n})`
      : agg.function === 'approx_distinct'
        ? `approx_distinct(p${agg.precision === 0 ? DEFAULT_HLL_PRECISION : agg.precision})`
        : agg.function;
  const hop = effectiveHopMillis(agg);
  const window = agg.windowMillis === 0 ? 'unbounded' : `${formatWindow(agg.windowMillis)}/${formatWindow(hop)}`;
  const parts = [fn, ...(agg.input === '' ? [] : [agg.input]), window];
  if (agg.groupBy !== '') parts.push(`by ${agg.groupBy}`);
  return parts.join(' ');
}
