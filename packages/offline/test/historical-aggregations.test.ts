/**
 * Window aggregations in GetHistorical (design §4.2) against the brute force written from §1
 * alone (packages/core/test/oracle/brute-force.ts, which imports nothing of Tessera), on real chDB.
 *
 * Events go in through the offline store's insert (the write path's own: fingerprints by core's
 * `batchFingerprints`, eligibility routing to `__excluded`), each copy of a duplicated event in an
 * insert of its own (a replay), late/future rows into `__excluded`. Every aggregator × window
 * (1h/5m, 7d/1h, 30d/1d, 90m/15m, unbounded) is read at random query times for entities with and
 * without events, through every plan and both output formats. Tolerances as §1.10: exact but for
 * double sums and means (approx_distinct exact against the brute force's own HLL).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXCLUSION_NONE,
  batchFingerprints,
  entityKey,
  hllCodeOfBytes,
  hllCodeOfInt64,
  aggregationResultType,
  type AggregationFunction,
  type FeatureValue,
  type HistoricalChunk,
  type HistoricalRequest,
  type RegisteredView,
  type ResolvedFeatures,
} from '@tessera/core';
import {
  bruteAggregate,
  bruteDistinct,
  bruteKeyed,
  bruteSumTolerance,
  type BruteEvent,
  type BruteSpec,
  type BruteType,
  type BruteValue,
} from '../../core/test/oracle/brute-force.js';
import { insertOfflineBatch } from '../src/index.js';
import type { HistoricalOptions } from '../src/historical/run.js';
import { hllCodeExpression } from '../src/historical/aggregation-sql.js';
import {
  arrowToColumns,
  collect,
  concatColumns,
  createTables,
  feature,
  openEngine,
  truncate,
  view,
  type Engine,
} from './support/oracle-harness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const RUNS = Number(process.env.ORACLE_RUNS ?? 9);
/** Bounds each property run on a loaded machine (about 1.3 s a run alone here); no timing is asserted. */
const ORACLE_TIMEOUT_MILLIS = 300_000;
// `g` and `gi` are the not_null group features of the grouped aggregations (design §1.8).
const TYPES: readonly BruteType[] = ['int64', 'double', 'string', 'timestamp', 'bool', 'string', 'int64'];
const NAMES = ['i', 'd', 's', 'ts', 'b', 'g', 'gi'];
const [I, D, S, TS, B, G, GI] = [0, 1, 2, 3, 4, 5, 6];
const GROUPS = ['g1', 'g2', 'g3'];
const WINDOWS: readonly [number, number][] = [
  [HOUR, 5 * MIN],
  [7 * DAY, HOUR],
  [30 * DAY, DAY],
  [90 * MIN, 15 * MIN],
  [0, 0],
];
const PER_WINDOW: readonly [AggregationFunction, number | null, number, number][] = [
  ['count', null, 0, 0],
  ['count', S, 0, 0],
  ['sum', I, 0, 0],
  ['sum', D, 0, 0],
  ['mean', I, 0, 0],
  ['mean', D, 0, 0],
  ['min', I, 0, 0],
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
/** Grouped aggregations (§1.8), by `g` or `gi`: one more subquery each, folded into the same runs. */
const PER_GROUPED_WINDOW: readonly [AggregationFunction, number | null, number, number, number][] = [
  ['count', null, 0, 0, G],
  ['sum', I, 0, 0, G],
  ['mean', D, 0, 0, GI],
  ['last', S, 0, 0, G],
  ['last_n', I, 3, 0, GI],
  ['approx_distinct', S, 0, 10, G],
  ['max', TS, 0, 0, GI],
  ['last_ts', null, 0, 0, G],
];
const GROUPED_WINDOWS = [WINDOWS[0], WINDOWS[2], WINDOWS[4]] as [number, number][];
/** A brute-force spec and the feature its aggregation is grouped by (null: ungrouped). */
type GroupedSpec = BruteSpec & { readonly group: number | null };
const BRUTE: GroupedSpec[] = [
  ...WINDOWS.flatMap(([windowMillis, hopMillis]) =>
    PER_WINDOW.map(([fn, input, n, precision]) => ({ fn, input, windowMillis, hopMillis, n, precision, group: null })),
  ),
  ...GROUPED_WINDOWS.flatMap(([windowMillis, hopMillis]) =>
    PER_GROUPED_WINDOW.map(([fn, input, n, precision, group]) => ({
      fn,
      input,
      windowMillis,
      hopMillis,
      n,
      precision,
      group,
    })),
  ),
];

const EVENTS: RegisteredView = {
  ...view(
    'agg_events',
    [{ name: 'customer', type: 'string' }],
    TYPES.map((t, i) => ({
      ...feature(NAMES[i] as string, t),
      ...(i >= G ? { constraints: { notNull: true, allowNaN: true } } : {}),
    })),
  ),
  kind: 'events',
  events: { allowedLatenessMillis: HOUR, futureToleranceMillis: MIN },
  aggregations: BRUTE.map((b, k) => ({
    name: `a${k}`,
    function: b.fn,
    input: b.input === null ? '' : (NAMES[b.input] as string),
    windowMillis: b.windowMillis,
    hopMillis: b.hopMillis,
    n: b.n,
    precision: b.precision,
    groupBy: b.group === null ? '' : (NAMES[b.group] as string),
    description: '',
    tags: {},
    type: aggregationResultType(b.fn, b.input === null ? undefined : TYPES[b.input]),
    specVersion: 1,
    state: 'ready' as const,
  })),
};

/** Every aggregation of EVENTS (and its plain feature `i` when asked), as the registry resolves refs. */
function resolved(withPlain: boolean, only?: readonly number[]): ResolvedFeatures {
  const indexes = only ?? BRUTE.map((_, k) => k);
  const aggs = EVENTS.aggregations ?? [];
  return {
    sequence: 0,
    views: [
      {
        view: EVENTS,
        field: '',
        featureIndexes: withPlain ? [I] : [],
        refs: withPlain ? ['agg_events@1:i'] : [],
        aggregationIndexes: [...indexes],
      },
    ],
    features: [
      ...(withPlain
        ? [{ viewSlot: 0, featureIndex: I, ref: 'agg_events@1:i', name: 'agg_events:i', type: 'int64' as const }]
        : []),
      ...indexes.map((k) => ({
        viewSlot: 0,
        featureIndex: -1,
        aggregationIndex: k,
        ref: `agg_events@1:a${k}`,
        name: `agg_events:a${k}`,
        type: aggs[k]!.type,
      })),
    ],
  };
}

// ---- arbitraries (as packages/core/test/aggregation-oracle.test.ts, with exclusions and replays) ----
const INT64_EDGE = [2n ** 63n - 1n, 2n ** 63n - 2n, -(2n ** 63n), -(2n ** 63n) + 1n, 2n ** 62n];
const arbValues = fc.tuple(
  fc.oneof(fc.constant(null), fc.bigInt({ min: -1000n, max: 1000n }), fc.constantFrom(...INT64_EDGE)),
  fc.oneof(
    fc.constant(null),
    fc.constantFrom(-0, 0, -1.5, 0.1, 1e12, -1e12),
    fc.double({ min: -1e9, max: 1e9, noNaN: true }),
  ),
  fc.oneof(fc.constant(null), fc.constantFrom('a', 'b', 'é', '😀', '', 'x|y', '\t\\'), fc.string({ maxLength: 4 })),
  fc.oneof(fc.constant(null), fc.integer({ min: -2e12, max: 1e13 })),
  fc.oneof(fc.constant(null), fc.boolean()),
  fc.constantFrom(...GROUPS),
  fc.constantFrom(1n, -2n),
);

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
    hop: fc.constantFrom(5 * MIN, 15 * MIN, HOUR, DAY),
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

const arbSubCase = fc.record({
  base: fc.constantFrom(1_733_529_600_000, 1_733_529_600_000 + 7 * MIN + 13, -400 * DAY - 5, 0),
  queries: fc.array(fc.integer({ min: -31 * DAY, max: DAY }), { minLength: 1, maxLength: 4 }),
  events: fc.array(
    fc.record({
      entity: fc.nat(2),
      time: arbTime,
      values: arbValues,
      copies: fc.constantFrom(1, 1, 1, 2, 3),
      // 0 eligible (main table), 1 late, 2 future (`__excluded`: never aggregated).
      exclusion: fc.constantFrom(0, 0, 0, 0, 0, 0, 1, 2),
      burst: fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(5, 40) }),
    }),
    { maxLength: 25 },
  ),
});

interface Written {
  readonly entity: string;
  readonly ts: number;
  readonly values: BruteValue[];
  readonly exclusion: number;
  /** Which insert it goes in (a copy of an event goes in a later insert: a replay). */
  readonly insert: number;
}

interface Dataset {
  readonly written: Written[];
  /** Entity rows; `g`/`gi` are the group values they ask for (`g4`, `3`: never written). */
  readonly rows: { entity: string; t: number; g: string; gi: bigint }[];
}

type SubCase = typeof arbSubCase extends fc.Arbitrary<infer T> ? T : never;

function resolveCase(c: SubCase, n: number, into: Dataset): void {
  const queries = c.queries.map((q) => c.base + q);
  let prevTs = c.base;
  const key = (e: number): string => `c${n}_${e}`;
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
    for (let k = 0; k < e.copies; k++) {
      into.written.push({ entity: key(e.entity), ts, values: [...e.values], exclusion: e.exclusion, insert: k });
    }
    for (let j = 0; j < e.burst; j++) {
      const burst: BruteValue[] = [BigInt(j) * 7919n, j / 4, `b${j}`, ts - j, j % 2 === 0, GROUPS[j % 3]!, 1n];
      into.written.push({ entity: key(e.entity), ts, values: burst, exclusion: 0, insert: 0 });
    }
  }
  // Entity 3 is never written.
  for (const t of queries) {
    for (let e = 0; e <= 3; e++) {
      const r = into.rows.length;
      into.rows.push({ entity: key(e), t, g: ['g1', 'g2', 'g3', 'g4'][r % 4]!, gi: [1n, -2n, 3n][r % 3]! });
    }
  }
}

/** Inserts through the store's own insert, one insert per replay round, fingerprints as the Write computes them. */
async function write(engine: Engine, written: readonly Written[]): Promise<void> {
  const rounds = Math.max(0, ...written.map((w) => w.insert)) + 1;
  for (let round = 0; round < rounds; round++) {
    const rows = written.filter((w) => w.insert === round);
    // One insert may not hold one (entity, ts) twice with different values only in a burst:
    // the Write refuses it (until that lane lands), but the offline store takes it, as a bulk load would.
    const batch = {
      joinKeyValues: rows.map((r) => [r.entity]),
      eventTsMillis: Float64Array.from(rows.map((r) => r.ts)),
      featureValues: TYPES.map((_, f) => rows.map((r) => (r.values[f] ?? null) as FeatureValue)),
    };
    await insertOfflineBatch(engine.executor, engine.database, EVENTS, {
      ...batch,
      fingerprints: batchFingerprints(EVENTS, batch),
      exclusions: Uint8Array.from(rows.map((r) => r.exclusion)),
    });
  }
}

function request(
  rows: readonly { entity: string; t: number; g?: string; gi?: bigint }[],
  features: ResolvedFeatures,
  format: 'columns' | 'arrow',
  chunkRows: number,
): HistoricalRequest {
  return {
    entities: {
      kind: 'rows',
      keys: new Map([['customer', rows.map((r) => r.entity)]]),
      eventTsMillis: rows.map((r) => r.t),
      passthrough: rows.every((r) => r.g !== undefined)
        ? [
            { name: 'g', type: 'string', values: rows.map((r) => r.g ?? null) },
            { name: 'gi', type: 'int64', values: rows.map((r) => r.gi ?? null) },
          ]
        : [],
    },
    features,
    chunkRows,
    format,
  };
}

/** The training set as name → values, whatever the format. */
function tableOf(chunks: readonly HistoricalChunk[], format: 'columns' | 'arrow'): Map<string, FeatureValue[]> {
  if (format === 'arrow') {
    const { names, values } = arrowToColumns(chunks);
    return new Map(names.map((n, i) => [n, values[i] ?? []]));
  }
  return new Map(concatColumns(chunks).map((c) => [c.name, [...c.values]]));
}

function plainList(v: unknown): unknown {
  return v instanceof BigInt64Array || v instanceof Float64Array || Array.isArray(v)
    ? [...(v as Iterable<unknown>)]
    : v;
}

function same(spec: GroupedSpec, actual: FeatureValue | undefined, expected: unknown, tolerance: number): boolean {
  if (spec.input === D && (spec.fn === 'sum' || spec.fn === 'mean') && typeof expected === 'number') {
    return typeof actual === 'number' && Math.abs(actual - expected) <= tolerance;
  }
  if (spec.fn === 'last_n') {
    const list = plainList(actual);
    const want = expected as unknown[];
    return Array.isArray(list) && list.length === want.length && list.every((v, i) => Object.is(v, want[i]));
  }
  return Object.is(actual, expected);
}

function show(v: unknown): string {
  return JSON.stringify(plainList(v), (_, x: unknown) =>
    typeof x === 'bigint' ? `${x}n` : Object.is(x, -0) ? '-0' : x,
  );
}

/** The first difference between the training set and the brute force, or undefined. */
function mismatch(dataset: Dataset, table: Map<string, FeatureValue[]>): string | undefined {
  const eligible: BruteEvent[] = dataset.written
    .filter((w) => w.exclusion === EXCLUSION_NONE)
    .map((w) => ({ entityKey: entityKey(EVENTS.entities, [w.entity]), ts: w.ts, values: w.values }));
  const keyed = bruteKeyed(EVENTS.id, EVENTS.version, TYPES, bruteDistinct(eligible));
  for (const [row, { entity, t, g, gi }] of dataset.rows.entries()) {
    const all = keyed.filter((k) => k.e.entityKey === entityKey(EVENTS.entities, [entity]));
    for (const [k, spec] of BRUTE.entries()) {
      const group = spec.group === null ? undefined : spec.group === G ? g : gi;
      const mine = group === undefined ? all : all.filter((x) => x.e.values[spec.group ?? 0] === group);
      const expected = bruteAggregate(spec, TYPES, mine, t);
      const actual = table.get(`agg_events__a${k}`)?.[row];
      const tolerance = spec.input === D ? bruteSumTolerance(spec, mine, t) : 0;
      if (!same(spec, actual, expected, tolerance)) {
        return `${spec.fn}(${spec.input ?? ''}) by ${spec.group ?? '-'} ${spec.windowMillis}/${spec.hopMillis} entity ${entity} t=${t}: got ${show(actual)}, brute force ${show(expected)}`;
      }
    }
  }
  return undefined;
}

describe('GetHistorical window aggregations against the brute force', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await openEngine('hist_agg');
    await createTables(engine, [EVENTS]);
  });
  afterAll(() => engine.close());

  it(
    `equals the brute force for every aggregator × window (${RUNS} random datasets, every plan, both formats)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(arbSubCase, { minLength: 1, maxLength: 4 }),
          fc.constantFrom<'columns' | 'arrow'>('columns', 'arrow'),
          fc.oneof(
            fc.constant<HistoricalOptions>({}),
            fc.constant<HistoricalOptions>({ plan: 'full_sorting_merge' }),
            fc.integer({ min: 2, max: 10 }).map((partRows): HistoricalOptions => ({ plan: 'key_ranges', partRows })),
          ),
          fc.integer({ min: 1, max: 50 }),
          // With a plain feature of the view too: its ASOF join and the aggregations' join in one query.
          fc.boolean(),
          async (cases, format, options, chunkRows, withPlain) => {
            const dataset: Dataset = { written: [], rows: [] };
            cases.forEach((c, n) => resolveCase(c, n, dataset));
            await truncate(engine, [EVENTS]);
            await engine.executor.command(`TRUNCATE TABLE ${engine.database}.fv_agg_events__v1__excluded`);
            await write(engine, dataset.written);
            const chunks = await collect(
              engine,
              request(dataset.rows, resolved(withPlain), format, chunkRows),
              options,
            );
            expect(mismatch(dataset, tableOf(chunks, format))).toBeUndefined();
          },
        ),
        { numRuns: RUNS, verbose: 1 },
      );
    },
    ORACLE_TIMEOUT_MILLIS,
  );

  it('counts an event exactly at the row time and exactly at start(t) (Chronon zipline PR #1356)', async () => {
    await truncate(engine, [EVENTS]);
    const t = Date.UTC(2025, 0, 1, 10, 7); // start(t) of 1h/5m = 09:05
    const start = Date.UTC(2025, 0, 1, 9, 5);
    const at = (entity: string, ts: number, i: bigint): Written => ({
      entity,
      ts,
      values: [i, null, null, null, null, 'g1', 1n],
      exclusion: 0,
      insert: 0,
    });
    await write(engine, [at('edge', t, 1n), at('edge', start, 2n), at('edge', start - 1, 4n), at('edge', t + 1, 8n)]);
    const count1h = BRUTE.findIndex((b) => b.fn === 'count' && b.input === null && b.windowMillis === HOUR);
    const sum1h = BRUTE.findIndex((b) => b.fn === 'sum' && b.input === I && b.windowMillis === HOUR);
    const chunks = await collect(
      engine,
      request(
        [
          { entity: 'edge', t },
          { entity: 'edge', t: t - 1 },
          { entity: 'nobody', t },
        ],
        resolved(true, [count1h, sum1h]),
        'columns',
        10,
      ),
    );
    const table = tableOf(chunks, 'columns');
    // The first event's own row counts it (1 + 2: at t and at start(t); start(t) − 1 and t + 1 do not).
    expect(table.get(`agg_events__a${count1h}`)).toEqual([2n, 1n, 0n]);
    expect(table.get(`agg_events__a${sum1h}`)).toEqual([3n, 2n, 0n]);
    // Plain features first, then aggregations (each in request order); the plain ASOF still works.
    expect([...table.keys()]).toEqual([
      'customer',
      'event_ts',
      'agg_events__i',
      `agg_events__a${count1h}`,
      `agg_events__a${sum1h}`,
    ]);
    expect(table.get('agg_events__i')).toEqual([1n, 2n, null]);
  });

  it('refuses entity rows that lack the group column of a grouped aggregation, or carry it with another type', async () => {
    const grouped = BRUTE.findIndex((b) => b.group === G);
    const byInt = BRUTE.findIndex((b) => b.group === GI);
    const rows = [{ entity: 'c', t: Date.UTC(2025, 0, 1) }];
    await expect(collect(engine, request(rows, resolved(false, [grouped]), 'columns', 10))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/entity rows lack the column "g": agg_events:a\d+ is grouped by g/) as unknown,
    });
    const wrong: HistoricalRequest = {
      ...request(rows, resolved(false, [byInt]), 'columns', 10),
      entities: {
        kind: 'rows',
        keys: new Map([['customer', ['c']]]),
        eventTsMillis: [Date.UTC(2025, 0, 1)],
        passthrough: [{ name: 'gi', type: 'string', values: ['1'] }],
      },
    };
    await expect(collect(engine, wrong)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(
        /entity column "gi" is string; agg_events:a\d+ is grouped by gi, a int64 feature/,
      ) as unknown,
    });
  });

  it('computes the same HLL codes in SQL as core computes in TS (1M random byte strings and int64s, p 10 and 14)', async () => {
    const rows = 500_000;
    const code = (v: string, p: number): string => `toString(${hllCodeExpression(v, p)})`;
    // Strings as arbitrary bytes (hex on the wire, so no text decoding can hide a difference).
    // Aliases differ from the column names: ClickHouse would substitute an alias into the expression.
    const strings = await engine.executor.queryJson<{ s: string; c10: string; c14: string }>(
      `SELECT hex(v) AS s, ${code('v', 10)} AS c10, ${code('v', 14)} AS c14 FROM ` +
        `(SELECT randomString(number % 24) AS v FROM numbers(${rows}))`,
    );
    const ints = await engine.executor.queryJson<{ s: string; c10: string; c14: string }>(
      `SELECT toString(x) AS s, ${code('toString(x)', 10)} AS c10, ${code('toString(x)', 14)} AS c14 FROM ` +
        `(SELECT arrayJoin([toInt64(-9223372036854775808), toInt64(9223372036854775807), toInt64(0), toInt64(-1)]) AS x ` +
        `UNION ALL SELECT toInt64(rand64()) AS x FROM numbers(${rows - 2004}) ` +
        `UNION ALL SELECT toInt64(number) - 1000 AS x FROM numbers(2000))`,
    );
    expect(strings.length + ints.length).toBe(2 * rows);
    const differ: string[] = [];
    for (const r of strings) {
      const bytes = Buffer.from(r.s, 'hex');
      if (hllCodeOfBytes(bytes, 10) !== Number(r.c10) || hllCodeOfBytes(bytes, 14) !== Number(r.c14)) differ.push(r.s);
    }
    for (const r of ints) {
      const x = BigInt(r.s);
      if (hllCodeOfInt64(x, 10) !== Number(r.c10) || hllCodeOfInt64(x, 14) !== Number(r.c14)) differ.push(r.s);
    }
    expect(differ.slice(0, 5)).toEqual([]);
  }, 120_000);
});
