/**
 * The pure oracle of increment 1 (design §6.1, §6.2 without servers): random event streams are
 * folded into tiles by core's fold, the covering tiles merged at random query times and finalised,
 * and every aggregator × window is held to a brute force written from §1 alone
 * (`oracle/brute-force.ts`, which imports nothing from Tessera). Tolerances as §1.10: exact for
 * everything but double sums and means, which get the written bound.
 */

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  FingerprintEncoder,
  compileAggregationPlan,
  foldEventIntoFields,
  pruneAggregationFields,
  readAggregations,
  type AggregationFields,
  type AggregationSpec,
  type FeatureValue,
} from '../src/index.js';
import {
  bruteAggregate,
  bruteDistinct,
  bruteFingerprint,
  bruteKeyed,
  bruteSumTolerance,
  type BruteEvent,
  type BruteSpec,
  type BruteType,
  type BruteValue,
} from './oracle/brute-force.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const VIEW_ID = 7;
const VIEW_VERSION = 3;
const TYPES: readonly BruteType[] = ['int64', 'double', 'string', 'timestamp', 'bool'];
const [I, D, S, TS, B] = [0, 1, 2, 3, 4];
const ENTITIES = ['{customer:1}', "{customer:'a|b}", '{customer:-3}', '{customer:4}']; // the last never written
const WINDOWS: readonly [number, number][] = [
  [HOUR, 5 * MIN],
  [7 * DAY, HOUR],
  [30 * DAY, DAY],
  [90 * MIN, 15 * MIN],
  [0, 0],
];
const HOPS = [5 * MIN, 15 * MIN, HOUR, DAY];
const RUNS = Number(process.env.ORACLE_RUNS ?? 600);

type Fn = BruteSpec['fn'];
const PER_WINDOW: readonly [Fn, number | null, number, number][] = [
  ['count', null, 0, 0],
  ['count', S, 0, 0],
  ['sum', I, 0, 0],
  ['sum', D, 0, 0],
  ['mean', I, 0, 0],
  ['mean', D, 0, 0],
  ['min', I, 0, 0],
  ['max', I, 0, 0],
  ['min', D, 0, 0],
  ['max', D, 0, 0],
  ['min', TS, 0, 0],
  ['max', TS, 0, 0],
  ['last', I, 0, 0],
  ['last', D, 0, 0],
  ['last', S, 0, 0],
  ['last', B, 0, 0],
  ['last', TS, 0, 0],
  ['last_n', I, 3, 0],
  ['last_n', S, 2, 0],
  ['last_n', D, 4, 0],
  ['last_n', TS, 1, 0],
  ['first_ts', null, 0, 0],
  ['last_ts', null, 0, 0],
  ['approx_distinct', S, 0, 10],
  ['approx_distinct', I, 0, 11],
];

const BRUTE_SPECS: BruteSpec[] = WINDOWS.flatMap(([windowMillis, hopMillis]) =>
  PER_WINDOW.map(([fn, input, n, precision]) => ({ fn, input, windowMillis, hopMillis, n, precision })),
);
const SPECS: AggregationSpec[] = BRUTE_SPECS.map((b) => ({
  function: b.fn,
  input: b.input === null ? null : { index: b.input, type: TYPES[b.input] as BruteType },
  windowMillis: b.windowMillis,
  hopMillis: b.hopMillis,
  n: b.n,
  precision: b.precision,
}));
const PLAN = compileAggregationPlan(SPECS);

// ---- arbitraries ----
const INT64_EDGE = [2n ** 63n - 1n, 2n ** 63n - 2n, -(2n ** 63n), -(2n ** 63n) + 1n, 2n ** 62n];
const arbInt = fc.oneof(
  fc.constant(null),
  fc.bigInt({ min: -1000n, max: 1000n }),
  fc.constantFrom(...INT64_EDGE),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);
const arbDouble = fc.oneof(
  fc.constant(null),
  fc.constantFrom(-0, 0, -1.5, 0.1, 1e12, -1e12),
  fc.double({ min: -1e9, max: 1e9, noNaN: true }),
);
const arbString = fc.oneof(
  fc.constant(null),
  fc.constantFrom('a', 'b', 'é', '😀', '', 'x|y'),
  fc.string({ maxLength: 4 }),
);
const arbTs = fc.oneof(fc.constant(null), fc.integer({ min: -1e13, max: 1e13 }));
const arbBool = fc.oneof(fc.constant(null), fc.boolean());
const arbValues = fc.tuple(arbInt, arbDouble, arbString, arbTs, arbBool);

/** An event time, resolved against the base time and the query times. */
type TimeSpec =
  | { kind: 'free'; offset: number }
  | { kind: 'boundary'; hop: number; k: number; delta: number }
  | { kind: 'query'; q: number; delta: number }
  | { kind: 'tail'; q: number; w: number; snapped: boolean; delta: number }
  | { kind: 'burst' };

const arbTime: fc.Arbitrary<TimeSpec> = fc.oneof(
  fc.record({ kind: fc.constant('free' as const), offset: fc.integer({ min: -35 * DAY, max: DAY }) }),
  fc.record({
    kind: fc.constant('boundary' as const),
    hop: fc.constantFrom(...HOPS),
    k: fc.integer({ min: -40, max: 2 }),
    delta: fc.constantFrom(-1, 0, 1),
  }),
  fc.record({ kind: fc.constant('query' as const), q: fc.nat(9), delta: fc.constantFrom(-1, 0, 1) }),
  fc.record({
    kind: fc.constant('tail' as const),
    q: fc.nat(9),
    w: fc.nat(3),
    snapped: fc.boolean(),
    delta: fc.constantFrom(-1, 0, 1),
  }),
  fc.constant({ kind: 'burst' as const }),
);

const arbCase = fc.record({
  base: fc.constantFrom(1_733_529_600_000, 1_733_529_600_000 + 7 * MIN + 13, -400 * DAY - 5, 0),
  queries: fc.array(fc.integer({ min: -31 * DAY, max: DAY }), { minLength: 1, maxLength: 6 }),
  events: fc.array(
    fc.record({
      entity: fc.nat(2),
      time: arbTime,
      values: arbValues,
      copies: fc.constantFrom(1, 1, 1, 2, 3), // duplicates (retries) of the same event
      // Now and then a burst of distinct events in the same millisecond (400 turns a p = 10 sketch dense).
      burst: fc.oneof(
        { weight: 60, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.constantFrom(5, 100, 400) },
      ),
    }),
    { maxLength: 40 },
  ),
});

interface Stream {
  queries: number[];
  events: BruteEvent[];
}

type Case = typeof arbCase extends fc.Arbitrary<infer T> ? T : never;

function resolve(c: Case): Stream {
  const queries = c.queries.map((q) => c.base + q);
  const events: BruteEvent[] = [];
  let prevTs = c.base;
  for (const e of c.events) {
    const q = queries[e.time.kind === 'query' || e.time.kind === 'tail' ? e.time.q % queries.length : 0] as number;
    let ts = prevTs;
    switch (e.time.kind) {
      case 'free':
        ts = c.base + e.time.offset;
        break;
      case 'boundary':
        ts = c.base - (((c.base % e.time.hop) + e.time.hop) % e.time.hop) + e.time.k * e.time.hop + e.time.delta;
        break;
      case 'query':
        ts = q + e.time.delta;
        break;
      case 'tail': {
        const [w, h] = WINDOWS[e.time.w] as [number, number];
        const raw = q - w;
        ts = (e.time.snapped ? raw - (((raw % h) + h) % h) : raw) + e.time.delta;
        break;
      }
      case 'burst':
        break;
    }
    prevTs = ts;
    const values: BruteValue[] = [...e.values];
    for (let k = 0; k < e.copies; k++) events.push({ entityKey: ENTITIES[e.entity] as string, ts, values });
    for (let j = 0; j < e.burst; j++) {
      const burst: BruteValue[] = [BigInt(j) * 7919n, j / 4, `b${j}`, ts - j, j % 2 === 0];
      events.push({ entityKey: ENTITIES[e.entity] as string, ts, values: burst });
    }
  }
  return { queries, events };
}

function sameResult(spec: BruteSpec, actual: FeatureValue, expected: unknown, tolerance: number): boolean {
  if (spec.input === D && (spec.fn === 'sum' || spec.fn === 'mean') && typeof expected === 'number') {
    return typeof actual === 'number' && Math.abs(actual - expected) <= tolerance;
  }
  if (spec.fn === 'last_n') {
    const list = actual instanceof BigInt64Array || actual instanceof Float64Array ? [...actual] : actual;
    return (
      Array.isArray(list) &&
      list.length === (expected as unknown[]).length &&
      list.every((v, i) => Object.is(v, (expected as unknown[])[i]))
    );
  }
  return Object.is(actual, expected);
}

function show(v: unknown): string {
  return JSON.stringify(v, (_, x: unknown) =>
    typeof x === 'bigint'
      ? `${x}n`
      : x instanceof BigInt64Array || x instanceof Float64Array
        ? [...x]
        : Object.is(x, -0)
          ? '-0'
          : x,
  );
}

/** Runs one stream: fold, read at every query time, compare; returns the first mismatch. */
function check(stream: Stream, prune: boolean): string | undefined {
  const encoder = new FingerprintEncoder(VIEW_ID, VIEW_VERSION, TYPES);
  const fields = new Map<string, AggregationFields>(ENTITIES.map((e) => [e, new Map()]));
  const seen = new Set<string>();
  const folded = new Array<boolean>(stream.events.length).fill(false);
  const distinct = bruteKeyed(VIEW_ID, VIEW_VERSION, TYPES, bruteDistinct(stream.events));
  for (const t of [...stream.queries].sort((a, b) => a - b)) {
    // The store's state at t: every event with ts ≤ t, in arrival order, each fp once.
    stream.events.forEach((e, i) => {
      if (folded[i] || e.ts > t) return;
      folded[i] = true;
      const fp = encoder.fingerprint(e.entityKey, e.ts, e.values);
      const hex = Buffer.from(fp).toString('hex');
      if (hex !== bruteFingerprint(VIEW_ID, VIEW_VERSION, TYPES, e).toString('hex')) {
        throw new Error(`fp differs from the brute force's for ${show(e)}`);
      }
      const key = `${e.entityKey}/${hex}`;
      if (seen.has(key)) return;
      seen.add(key);
      foldEventIntoFields(PLAN, fields.get(e.entityKey) as AggregationFields, e.ts, fp, e.values);
    });
    for (const entity of ENTITIES) {
      const entityFields = fields.get(entity) as AggregationFields;
      if (prune) pruneAggregationFields(PLAN, entityFields, t); // later queries are at t or after
      const actual = readAggregations(PLAN, entityFields, t);
      const mine = distinct.filter((k) => k.e.entityKey === entity);
      for (let i = 0; i < BRUTE_SPECS.length; i++) {
        const spec = BRUTE_SPECS[i] as BruteSpec;
        const expected = bruteAggregate(spec, TYPES, mine, t);
        const tolerance = spec.input === D ? bruteSumTolerance(spec, mine, t) : 0;
        if (!sameResult(spec, actual[i] ?? null, expected, tolerance)) {
          return `${spec.fn}(${spec.input ?? ''}) window ${spec.windowMillis}/${spec.hopMillis} entity ${entity} t=${t}: got ${show(actual[i])}, brute force ${show(expected)}`;
        }
      }
    }
  }
  return undefined;
}

describe('aggregation oracle: fold → tiles → merge → finalize equals brute force from §1', () => {
  it(`holds for ${RUNS} random streams × every aggregator × 5 windows`, () => {
    fc.assert(
      fc.property(arbCase, fc.boolean(), (c, prune) => {
        const mismatch = check(resolve(c), prune);
        expect(mismatch).toBeUndefined();
      }),
      { numRuns: RUNS, verbose: 1 },
    );
    // ~15 s on a quiet machine; the bound only guards against a hang on a loaded one.
  }, 240_000);

  it('catches a wrong fold (the oracle can fail)', () => {
    // One event counted twice must be seen: the brute force dedups by content, the harness by fp.
    const e: BruteEvent = { entityKey: ENTITIES[0] as string, ts: 1_000, values: [1n, 1.5, 'a', 5, true] };
    const keyed = bruteKeyed(VIEW_ID, VIEW_VERSION, TYPES, bruteDistinct([e, e]));
    expect(bruteAggregate(BRUTE_SPECS[0] as BruteSpec, TYPES, keyed, 2_000)).toBe(1n);
    const fields: AggregationFields = new Map();
    const fp = new FingerprintEncoder(VIEW_ID, VIEW_VERSION, TYPES).fingerprint(e.entityKey, e.ts, e.values);
    foldEventIntoFields(PLAN, fields, e.ts, fp, e.values);
    foldEventIntoFields(PLAN, fields, e.ts, fp, e.values);
    expect(readAggregations(PLAN, fields, 2_000)[0]).toBe(2n);
  });
});
