/**
 * One aggregation as the fold, merge and finalize functions see it (design §1.7): a plain spec
 * type, independent of how the registry declares it (the registry maps its definitions onto it).
 */

import type { ValueType } from '../model.js';
import { MAX_HLL_PRECISION, MIN_HLL_PRECISION } from './hll.js';
import { UNBOUNDED_WINDOW, windowProblem } from './window.js';

/** Every aggregation function. */
export const AGGREGATION_FUNCTIONS = [
  'count',
  'sum',
  'mean',
  'min',
  'max',
  'last',
  'last_n',
  'first_ts',
  'last_ts',
  'approx_distinct',
] as const;
export type AggregationFunction = (typeof AGGREGATION_FUNCTIONS)[number];

/** Types an aggregation's input can have (which ones each function takes: {@link ALLOWED_INPUT_TYPES}). */
export type AggregationInputType = 'int64' | 'double' | 'string' | 'bool' | 'timestamp';

/** The input types of each function (§1.7); an empty list means the function takes no input. */
export const ALLOWED_INPUT_TYPES: Readonly<Record<AggregationFunction, readonly AggregationInputType[]>> = {
  count: ['int64', 'double', 'string', 'bool', 'timestamp'],
  sum: ['int64', 'double'],
  mean: ['int64', 'double'],
  min: ['int64', 'double', 'timestamp'],
  max: ['int64', 'double', 'timestamp'],
  last: ['int64', 'double', 'string', 'bool', 'timestamp'],
  last_n: ['int64', 'double', 'string', 'timestamp'],
  first_ts: [],
  last_ts: [],
  approx_distinct: ['int64', 'string'],
};

/** Largest `n` of `last_n`. */
export const MAX_LAST_N = 100;

/** The input of an aggregation: a feature of the view, by its index in storage order. */
export interface AggregationInput {
  readonly index: number;
  readonly type: AggregationInputType;
}

/** One aggregation of an event view, as the aggregation functions need it. */
export interface AggregationSpec {
  readonly function: AggregationFunction;
  /** The input feature; null for `count` of events, `first_ts` and `last_ts`. */
  readonly input: AggregationInput | null;
  /** Window length in ms; {@link UNBOUNDED_WINDOW} (0) = unbounded. */
  readonly windowMillis: number;
  /** Hop in ms (the registry always assigns one); 0 for an unbounded window. */
  readonly hopMillis: number;
  /** `last_n` only: how many events (1…100); 0 otherwise. */
  readonly n: number;
  /** `approx_distinct` only: HLL precision p (10…14); 0 otherwise. */
  readonly precision: number;
}

/** The result type of an aggregation (§1.7). */
export function aggregationResultType(spec: AggregationSpec): ValueType {
  switch (spec.function) {
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
      return spec.input?.type ?? 'int64';
    case 'last_n':
      switch (spec.input?.type) {
        case 'double':
          return 'double_list';
        case 'string':
          return 'string_list';
        default:
          return 'int64_list';
      }
  }
}

/**
 * Why a spec cannot be folded, or undefined when it can: the input rules of §1.7, `n` and `precision`
 * ranges, and the window/hop rules of §1.4. Messages name the rule; the registry adds where.
 */
export function aggregationSpecProblem(spec: AggregationSpec): string | undefined {
  const allowed = ALLOWED_INPUT_TYPES[spec.function];
  if (spec.input === null) {
    if (spec.function !== 'count' && allowed.length > 0) return `${spec.function} needs an input`;
  } else if (!allowed.includes(spec.input.type)) {
    return allowed.length === 0
      ? `${spec.function} takes no input`
      : `${spec.function} needs an input of type ${allowed.join(' or ')}; the input is ${spec.input.type}`;
  }
  if (spec.function === 'last_n' ? spec.n < 1 || spec.n > MAX_LAST_N || !Number.isInteger(spec.n) : spec.n !== 0) {
    return spec.function === 'last_n' ? `last_n needs n from 1 to ${MAX_LAST_N}` : 'n is for last_n only';
  }
  if (
    spec.function === 'approx_distinct'
      ? !Number.isInteger(spec.precision) || spec.precision < MIN_HLL_PRECISION || spec.precision > MAX_HLL_PRECISION
      : spec.precision !== 0
  ) {
    return spec.function === 'approx_distinct'
      ? `approx_distinct needs precision from ${MIN_HLL_PRECISION} to ${MAX_HLL_PRECISION}`
      : 'precision is for approx_distinct only';
  }
  return windowProblem(spec.windowMillis, spec.windowMillis === UNBOUNDED_WINDOW ? 0 : spec.hopMillis);
}

/**
 * Whether the aggregation lives in the fixed-size records of a tile list (or the lifetime IR);
 * the others have their own lists: `approx_distinct` and `last` of a string in variable tile lists,
 * `last_n` in the last-n list of its input.
 */
export function isFixedWidthAggregation(spec: AggregationSpec): boolean {
  if (spec.function === 'approx_distinct' || spec.function === 'last_n') return false;
  return !(spec.function === 'last' && spec.input?.type === 'string');
}
