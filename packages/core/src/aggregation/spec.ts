/**
 * One aggregation as the fold, merge and finalize functions see it (design §1.7): a plain spec
 * with the input resolved to its index in the view's storage order. The registry's declaration
 * (`RegisteredAggregation`, validated by `definitions/validate-aggregations.ts`) maps onto it with
 * {@link toAggregationSpec}.
 */

import type { AggregationFunction, FeatureDef, RegisteredAggregation } from '../model.js';
import { TesseraError } from '../errors.js';

/** Types an aggregation's input can have (which ones each function takes: `inputRule`). */
export type AggregationInputType = 'int64' | 'double' | 'string' | 'bool' | 'timestamp';

const INPUT_TYPES: readonly string[] = ['int64', 'double', 'string', 'bool', 'timestamp'];

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
  /** Window length in ms; 0 = unbounded. */
  readonly windowMillis: number;
  /** Hop in ms (the registry always assigns one); 0 for an unbounded window. */
  readonly hopMillis: number;
  /** `last_n` only: how many events (1…100); 0 otherwise. */
  readonly n: number;
  /** `approx_distinct` only: HLL precision p (10…14); 0 otherwise. */
  readonly precision: number;
}

/**
 * The spec of a registered (validated) aggregation of a view whose features are `features` in
 * storage order. An input that is missing or of a type no aggregation takes is a registry bug.
 */
export function toAggregationSpec(agg: RegisteredAggregation, features: readonly FeatureDef[]): AggregationSpec {
  let input: AggregationInput | null = null;
  if (agg.input !== '') {
    const index = features.findIndex((f) => f.name === agg.input);
    const type = features[index]?.type;
    if (type === undefined || !INPUT_TYPES.includes(type)) {
      throw new TesseraError(
        'INTERNAL',
        `Aggregation ${agg.name}: input ${agg.input} is not a scalar feature of the view`,
      );
    }
    input = { index, type: type as AggregationInputType };
  }
  return {
    function: agg.function,
    input,
    windowMillis: agg.windowMillis,
    hopMillis: agg.windowMillis === 0 ? 0 : agg.hopMillis,
    n: agg.function === 'last_n' ? agg.n : 0,
    precision: agg.function === 'approx_distinct' ? agg.precision : 0,
  };
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

/**
 * Registry indexes of the aggregations an entity's own online fields hold: the ungrouped ones.
 * Grouped aggregations (§1.8) live in group fields with plans of their own
 * ({@link groupedAggregationIndexes}), so the tile layout of the ungrouped ones does not depend on
 * them. The server's plan and the rebuild's plan use this one rule.
 */
export function onlineAggregationIndexes(aggregations: readonly RegisteredAggregation[]): number[] {
  const indexes: number[] = [];
  aggregations.forEach((agg, i) => {
    if (agg.groupBy === '') indexes.push(i);
  });
  return indexes;
}

/**
 * The grouped aggregations (§1.8) per group feature, in the order the features first appear, each
 * with the registry indexes of its aggregations in registry order: the plan of one feature's group
 * fields. The server's group plans and the rebuild's use this one rule.
 */
export function groupedAggregationIndexes(
  aggregations: readonly RegisteredAggregation[],
): { readonly feature: string; readonly indexes: number[] }[] {
  const out: { feature: string; indexes: number[] }[] = [];
  aggregations.forEach((agg, i) => {
    if (agg.groupBy === '') return;
    const group = out.find((g) => g.feature === agg.groupBy);
    if (group === undefined) out.push({ feature: agg.groupBy, indexes: [i] });
    else group.indexes.push(i);
  });
  return out;
}
