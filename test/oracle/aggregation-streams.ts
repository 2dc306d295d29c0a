/**
 * What the aggregation oracle replays (docs/design/window-aggregations.md §6.2): the repository of
 * three event views (every aggregator × five windows), the served refs with their brute-force specs,
 * and the fast-check arbitraries of arrival streams (./aggregation-oracle.ts replays them).
 */
import fc from 'fast-check';
import type { BruteSpec, BruteType } from '../../packages/core/test/oracle/brute-force.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** The views' allowed lateness (the default). */
export const L = HOUR;
/** Their future tolerance (the default). */
export const F = MIN;

/** Streams a test replays: ORACLE_RUNS, or the test's default. */
export function oracleRuns(byDefault: number): number {
  return Number(process.env.ORACLE_RUNS ?? byDefault);
}

/** The fast-check seed: ORACLE_SEED replays one, otherwise from the time (printed by the tests). */
export const ORACLE_SEED =
  process.env.ORACLE_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.ORACLE_SEED);

export const TYPES: readonly BruteType[] = ['int64', 'double', 'string', 'timestamp', 'bool', 'string'];
/** `g` (not_null) is the group feature of the grouped aggregations (design §1.8). */
export const FEATURES = ['i', 'd', 's', 'ts', 'b', 'g'];
/** Feature indexes (storage order). */
export const [I, D, S, TS, B, G] = [0, 1, 2, 3, 4, 5] as const;
/** Group values events take; reads also ask for the last one, which no event has. */
export const GROUP_VALUES = ['g0', 'g1', 'g2', 'g3'];
/** Entities per stream; the last is never written. */
export const ENTITIES = 6;

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
/** Grouped by `g` (§1.8), in the windows of GROUPED_WINDOWS: folded into the same streams and reads. */
const PER_GROUPED_WINDOW: readonly [Fn, number | null, number, number][] = [
  ['count', null, 0, 0],
  ['sum', I, 0, 0],
  ['mean', D, 0, 0],
  ['max', TS, 0, 0],
  ['last', S, 0, 0],
  ['last_n', I, 3, 0],
  ['last_ts', null, 0, 0],
  ['approx_distinct', S, 0, 10],
];
const GROUPED_WINDOWS = [0, 2, 4];
/** Windows (YAML spelling, ms, hop ms), split over views: at most 64 aggregations and 4 hops a view. */
const WINDOWS: readonly { yaml: string; hop: string; windowMillis: number; hopMillis: number }[] = [
  { yaml: '1h', hop: '5m', windowMillis: HOUR, hopMillis: 5 * MIN },
  { yaml: '7d', hop: '1h', windowMillis: 7 * DAY, hopMillis: HOUR },
  { yaml: '30d', hop: '1d', windowMillis: 30 * DAY, hopMillis: DAY },
  { yaml: '90m', hop: '15m', windowMillis: 90 * MIN, hopMillis: 15 * MIN },
  { yaml: 'unbounded', hop: '', windowMillis: 0, hopMillis: 0 },
];
export const VIEWS: readonly { name: string; windows: readonly number[] }[] = [
  { name: 'ev_a', windows: [0, 1] },
  { name: 'ev_b', windows: [2, 3] },
  { name: 'ev_c', windows: [4] },
];

export interface Served {
  readonly ref: string;
  readonly spec: BruteSpec;
  /** Grouped by `g`: the value is the read row's group's. */
  readonly grouped: boolean;
}
export const SERVED: Served[] = VIEWS.flatMap((view) =>
  view.windows.flatMap((w) => [
    ...PER_WINDOW.map(([fn, input, n, precision], f): Served => {
      const win = WINDOWS[w]!;
      return {
        ref: `${view.name}:w${w}_${f}`,
        spec: { fn, input, windowMillis: win.windowMillis, hopMillis: win.hopMillis, n, precision },
        grouped: false,
      };
    }),
    ...(GROUPED_WINDOWS.includes(w) ? PER_GROUPED_WINDOW : []).map(([fn, input, n, precision], f): Served => {
      const win = WINDOWS[w]!;
      return {
        ref: `${view.name}:g${w}_${f}`,
        spec: { fn, input, windowMillis: win.windowMillis, hopMillis: win.hopMillis, n, precision },
        grouped: true,
      };
    }),
  ]),
);

/** The YAML repository of the oracle's three event views. */
export function repository(): string {
  const features = FEATURES.map(
    (name, i) => `      - { name: ${name}, type: ${TYPES[i]}${i === G ? ', not_null: true' : ''} }`,
  ).join('\n');
  const views = VIEWS.map((view) => {
    const aggregation = (
      w: number,
      name: string,
      [fn, input, n, precision]: readonly [Fn, number | null, number, number],
    ) => {
      const win = WINDOWS[w]!;
      const parts = [`name: ${name}`, `function: ${fn}`, `window: ${win.yaml}`];
      if (win.hop !== '') parts.push(`hop: ${win.hop}`);
      if (input !== null) parts.push(`input: ${FEATURES[input]}`);
      if (n > 0) parts.push(`n: ${n}`);
      if (precision > 0) parts.push(`precision: ${precision}`);
      if (name.startsWith('g')) parts.push('group_by: g');
      return `      - { ${parts.join(', ')} }`;
    };
    const aggregations = view.windows.flatMap((w) => [
      ...PER_WINDOW.map((spec, f) => aggregation(w, `w${w}_${f}`, spec)),
      ...(GROUPED_WINDOWS.includes(w) ? PER_GROUPED_WINDOW : []).map((spec, f) => aggregation(w, `g${w}_${f}`, spec)),
    ]);
    return `  - name: ${view.name}\n    kind: events\n    entities: [customer]\n    features:\n${features}\n    aggregations:\n${aggregations.join('\n')}`;
  });
  return `project: oracle\nentities:\n  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }\nfeature_views:\n${views.join('\n')}\n`;
}

// ---- arbitraries ----
const INT64_EDGE = [2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n, 2n ** 62n];
const arbValues = fc.tuple(
  fc.oneof(fc.constant(null), fc.bigInt({ min: -1000n, max: 1000n }), fc.constantFrom(...INT64_EDGE)),
  fc.oneof(fc.constant(null), fc.constantFrom(-0, 0, -1.5, 0.1, 1e12), fc.double({ min: -1e9, max: 1e9, noNaN: true })),
  fc.oneof(fc.constant(null), fc.constantFrom('a', 'b', 'é', '😀', ''), fc.string({ maxLength: 3 })),
  // Inside what the offline store holds (1900–2299).
  fc.oneof(fc.constant(null), fc.integer({ min: -2_000_000_000_000, max: 9_000_000_000_000 })),
  fc.oneof(fc.constant(null), fc.boolean()),
  // 0–3 group values per entity (some entities' events all share one).
  fc.constantFrom('g0', 'g1', 'g2'),
);

/** An event time relative to the clock at its Write. */
type TimeSpec =
  | { kind: 'recent'; back: number }
  | { kind: 'late'; beyond: number }
  | { kind: 'future'; ahead: number }
  | { kind: 'boundary'; hop: number; k: number; delta: number };

const arbTime: fc.Arbitrary<TimeSpec> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('recent' as const),
      back: fc.oneof(fc.constantFrom(0, L), fc.integer({ min: 0, max: L })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('late' as const),
      beyond: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 2 * DAY })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('future' as const),
      ahead: fc.oneof(
        fc.constantFrom(1, F, F + 1),
        fc.integer({ min: 1, max: F }),
        fc.integer({ min: F + 1, max: HOUR }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('boundary' as const),
      hop: fc.constantFrom(5 * MIN, 15 * MIN, HOUR, DAY),
      k: fc.integer({ min: -1, max: 1 }),
      delta: fc.constantFrom(-1, 0, 1),
    }),
  },
);

const arbEvent = fc.record({
  entity: fc.nat(ENTITIES - 2),
  time: arbTime,
  values: arbValues,
  copies: fc.constantFrom(1, 1, 1, 2, 3),
  burst: fc.oneof({ weight: 20, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(5, 60) }),
});

export type EventCase = typeof arbEvent extends fc.Arbitrary<infer T> ? T : never;
export type Op =
  | { kind: 'write'; events: EventCase[]; sync: boolean }
  | { kind: 'replay'; back: number }
  | { kind: 'advance'; millis: number }
  | { kind: 'query' };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      events: fc.array(arbEvent, { minLength: 1, maxLength: 8 }),
      // Now and then `durability: sync` (online fold first, then the insert into chDB).
      sync: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), back: fc.nat(5) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      millis: fc.constantFrom(1, 999, MIN, 5 * MIN + 1, 20 * MIN, HOUR, 6 * HOUR, DAY, 7 * DAY, 31 * DAY),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'query' as const }) },
);
export const arbStream = fc.array(arbOp, { minLength: 1, maxLength: 14 });
