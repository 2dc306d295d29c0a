/**
 * Random plans and event batches for the Lua-vs-TS differential (design §6.3): every aggregator,
 * the windows of §6.2, int64/double/string/bool/timestamp inputs, nulls, int64 near ±2^63, −0,
 * bursts in one ms, duplicates, future events, several hops in one plan. Seeded: a failure names
 * its seed and case.
 */

import {
  DAY_MILLIS,
  HOUR_MILLIS,
  MINUTE_MILLIS,
  compileAggregationPlan,
  encodeEventRecord,
  eventRecordLayout,
  floorTo,
  type AggregationInputType,
  type AggregationPlan,
  type AggregationSpec,
  type FeatureValue,
} from '@tessera/core';

/** mulberry32: small, seeded, good enough to pick test cases. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Picker {
  constructor(readonly next: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }
}

/** The test view's features, in storage order. */
export const FEATURE_TYPES: readonly AggregationInputType[] = [
  'int64',
  'double',
  'string',
  'bool',
  'timestamp',
  'int64',
];

const WINDOWS: readonly { windowMillis: number; hopMillis: number }[] = [
  { windowMillis: HOUR_MILLIS, hopMillis: 5 * MINUTE_MILLIS },
  { windowMillis: 7 * DAY_MILLIS, hopMillis: HOUR_MILLIS },
  { windowMillis: 30 * DAY_MILLIS, hopMillis: DAY_MILLIS },
  { windowMillis: 90 * MINUTE_MILLIS, hopMillis: 15 * MINUTE_MILLIS },
  { windowMillis: 0, hopMillis: 0 },
];

const INPUTS: Readonly<Record<AggregationSpec['function'], readonly AggregationInputType[] | 'none' | 'optional'>> = {
  count: 'optional',
  sum: ['int64', 'double'],
  mean: ['int64', 'double'],
  min: ['int64', 'double', 'timestamp'],
  max: ['int64', 'double', 'timestamp'],
  last: ['int64', 'double', 'string', 'bool', 'timestamp'],
  last_n: ['int64', 'double', 'string', 'timestamp'],
  first_ts: 'none',
  last_ts: 'none',
  approx_distinct: ['int64', 'string'],
};
const FUNCTIONS = Object.keys(INPUTS) as AggregationSpec['function'][];

function inputOf(p: Picker, types: readonly AggregationInputType[]): { index: number; type: AggregationInputType } {
  const candidates = FEATURE_TYPES.map((type, index) => ({ index, type })).filter((f) => types.includes(f.type));
  return p.pick(candidates);
}

/** One random aggregation spec (`only` limits the functions). */
export function randomSpec(p: Picker, only: readonly AggregationSpec['function'][] = FUNCTIONS): AggregationSpec {
  const fn = p.pick(only);
  const rule = INPUTS[fn];
  const input =
    rule === 'none'
      ? null
      : rule === 'optional'
        ? p.chance(0.5)
          ? inputOf(p, FEATURE_TYPES)
          : null
        : inputOf(p, rule);
  const window = p.pick(WINDOWS);
  return {
    function: fn,
    input,
    windowMillis: window.windowMillis,
    hopMillis: window.hopMillis,
    n: fn === 'last_n' ? p.int(1, 6) : 0,
    precision: fn === 'approx_distinct' ? p.pick([10, 12, 14]) : 0,
  };
}

export function randomPlan(p: Picker, only?: readonly AggregationSpec['function'][]): AggregationPlan {
  const specs = Array.from({ length: p.int(1, 8) }, () => randomSpec(p, only));
  return compileAggregationPlan(specs);
}

const INT64_EDGES: readonly bigint[] = [
  (1n << 63n) - 1n,
  -(1n << 63n),
  (1n << 63n) - 2n,
  -(1n << 63n) + 1n,
  (1n << 32n) - 1n,
  1n << 32n,
  -1n,
  0n,
];

function randomValue(p: Picker, type: AggregationInputType): FeatureValue {
  if (p.chance(0.15)) return null;
  switch (type) {
    case 'int64':
      if (p.chance(0.4)) return p.pick(INT64_EDGES);
      return BigInt.asIntN(64, (BigInt(p.int(0, 0xffffffff)) << 32n) | BigInt(p.int(0, 0xffffffff)));
    case 'double':
      return p.pick([-0, 0, 1.5, -2.25, 1e300, -1e-300, 0.1, p.next() * 1000 - 500, p.next()]);
    case 'string':
      return p.pick(['', 'a', 'b', 'ü', '日本', '🎉x', 'x'.repeat(p.int(1, 300)), `s${p.int(0, 50)}`]);
    case 'bool':
      return p.chance(0.5);
    case 'timestamp':
      return p.pick([0, -1, 1_700_000_000_000 + p.int(0, 1e9), 253_402_300_799_999]);
  }
}

export function randomValues(p: Picker): FeatureValue[] {
  return FEATURE_TYPES.map((type) => randomValue(p, type));
}

/** Event times around `acceptedAt`: within L back, on hop boundaries ±1 ms, now, a little ahead. */
export function randomEventTs(p: Picker, acceptedAt: number, latenessMillis: number, futureMillis: number): number {
  const back = p.int(0, latenessMillis);
  switch (p.int(0, 5)) {
    case 0: {
      const h = p.pick([5 * MINUTE_MILLIS, 15 * MINUTE_MILLIS, HOUR_MILLIS, DAY_MILLIS]);
      const ts = floorTo(acceptedAt - back, h) + p.int(-1, 1);
      return Math.min(Math.max(ts, acceptedAt - latenessMillis), acceptedAt + futureMillis);
    }
    case 1:
      return acceptedAt;
    case 2:
      // 1 ms and 30 s ahead meet later batches' acceptedAt exactly (the test's clock steps by them).
      return acceptedAt + p.pick([1, 30_000, p.int(1, futureMillis)]);
    default:
      return acceptedAt - back;
  }
}

/** An event record of the plan with a random fp (the store treats fp as opaque bytes). */
export function randomRecord(p: Picker, plan: AggregationPlan, ts: number): Uint8Array {
  return encodeEventRecord(eventRecordLayout(plan), ts, p.bytes(16), randomValues(p));
}
