import { describe, expect, it } from 'vitest';
import {
  AGGREGATION_FUNCTIONS,
  FingerprintEncoder,
  compileAggregationPlan,
  toAggregationSpec,
  emptyWindowValue,
  foldEventIntoFields,
  readAggregations,
  type AggregationFields,
  type AggregationFunction,
  type AggregationInputType,
  type AggregationSpec,
  type FeatureValue,
  type ValueType,
} from '../src/index.js';

const H = 3_600_000;
const TYPES: ValueType[] = ['int64', 'double', 'string', 'timestamp'];
const INPUT: Record<AggregationFunction, AggregationInputType | null> = {
  count: null,
  sum: 'double',
  mean: 'int64',
  min: 'double',
  max: 'double',
  last: 'string',
  last_n: 'string',
  first_ts: null,
  last_ts: null,
  approx_distinct: 'string',
};
const INDEX: Record<AggregationInputType, number> = { int64: 0, double: 1, string: 2, timestamp: 3, bool: -1 };

function specsFor(windowMillis: number, hopMillis: number): AggregationSpec[] {
  return AGGREGATION_FUNCTIONS.map((fn) => {
    const type = INPUT[fn];
    return {
      function: fn,
      input: type === null ? null : { index: INDEX[type], type },
      windowMillis,
      hopMillis,
      n: fn === 'last_n' ? 2 : 0,
      precision: fn === 'approx_distinct' ? 12 : 0,
    };
  });
}

describe('reading aggregations of an entity (§1.7)', () => {
  const encoder = new FingerprintEncoder(1, 1, TYPES);
  const fold = (
    fields: AggregationFields,
    plan: ReturnType<typeof compileAggregationPlan>,
    ts: number,
    values: FeatureValue[],
  ) => foldEventIntoFields(plan, fields, ts, encoder.fingerprint('{e:1}', ts, values), values);

  it('gives every aggregator its empty-window value for an entity with no events', () => {
    for (const [w, h] of [
      [7 * 24 * H, H],
      [0, 0],
    ] as const) {
      const specs = specsFor(w, h);
      const values = readAggregations(compileAggregationPlan(specs), new Map(), 1_000);
      expect(values).toEqual(specs.map((s) => emptyWindowValue(s)));
      expect(values).toEqual([0n, 0, null, null, null, null, [], null, null, 0n]);
    }
  });

  it('ignores null inputs, and an all-null window is the empty value except count and the times', () => {
    const specs = specsFor(24 * H, H);
    const plan = compileAggregationPlan(specs);
    const fields: AggregationFields = new Map();
    fold(fields, plan, 5 * H + 1, [null, null, null, null]);
    fold(fields, plan, 5 * H + 2, [null, null, null, null]);
    expect(readAggregations(plan, fields, 6 * H)).toEqual([
      2n,
      0,
      null,
      null,
      null,
      null,
      [],
      5 * H + 1,
      5 * H + 2,
      0n,
    ]);
    fold(fields, plan, 5 * H + 3, [4n, -0, 'x', null]);
    fold(fields, plan, 5 * H + 4, [null, 2.5, null, null]);
    expect(readAggregations(plan, fields, 6 * H)).toEqual([4n, 2.5, 4, 0, 2.5, 'x', ['x'], 5 * H + 1, 5 * H + 4, 1n]);
    expect(Object.is(readAggregations(plan, fields, 6 * H)[3], 0)).toBe(true); // min −0 served as +0
  });

  it('keeps events at both edges of the window and drops the one a millisecond before', () => {
    const specs = specsFor(H, 5 * 60_000);
    const plan = compileAggregationPlan(specs);
    const fields: AggregationFields = new Map();
    const t = -7 * H + 7 * 60_000; // negative times: a true floor
    const start = -8 * H + 5 * 60_000;
    for (const ts of [start - 1, start, t]) fold(fields, plan, ts, [1n, 1, String(ts), ts]);
    const [count, , , , , last, lastN, firstTs, lastTs] = readAggregations(plan, fields, t);
    expect(count).toBe(2n);
    expect(firstTs).toBe(start);
    expect(lastTs).toBe(t);
    expect(last).toBe(String(t));
    expect(lastN).toEqual([String(t), String(start)]);
  });

  it('maps a registered aggregation onto its spec, the input resolved to its storage index', () => {
    const features = ['amount', 'category'].map((name, i) => ({
      name,
      type: i === 0 ? ('double' as const) : ('string' as const),
      dimension: 0,
      constraints: { notNull: false, allowNaN: false },
      description: '',
      tags: {},
    }));
    const registered = {
      name: 'distinct_categories_30d',
      function: 'approx_distinct' as const,
      input: 'category',
      windowMillis: 30 * 24 * H,
      hopMillis: 24 * H,
      n: 0,
      precision: 12,
      groupBy: '',
      description: '',
      tags: {},
      type: 'int64' as const,
      specVersion: 1,
      state: 'ready' as const,
    };
    expect(toAggregationSpec(registered, features)).toEqual({
      function: 'approx_distinct',
      input: { index: 1, type: 'string' },
      windowMillis: 30 * 24 * H,
      hopMillis: 24 * H,
      n: 0,
      precision: 12,
    });
    expect(toAggregationSpec({ ...registered, function: 'count', input: '', precision: 0 }, features).input).toBeNull();
    expect(() => toAggregationSpec({ ...registered, input: 'missing' }, features)).toThrow(
      /input missing is not a scalar/,
    );
  });
});
