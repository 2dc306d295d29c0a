/**
 * Rebuilding online tiles from offline events (docs/design/window-aggregations.md §3.6, §4.4) on a
 * real chDB offline store and real LMDB online stores: events loaded offline only (as history
 * writes land, duplicates included), then `rebuildViewAggregations`.
 *  - the rebuilt online values equal the brute-force oracle (packages/core/test/oracle/brute-force.ts,
 *    which shares no code with either) at several times, pending future events included;
 *  - a rebuild interrupted (aborted after some parts, and "killed" after a part was written but
 *    before it was recorded) and resumed leaves byte-identical fields to an uninterrupted run;
 *  - a resumed part never merges twice (the per-entity `ok` marker);
 *  - exact under live writes (§3.6 dual write), on LMDB and on the Redis Cluster: writes into
 *    generation 1 alone before the barrier (their offline rows inserted by it), then dual writes
 *    between the parts — new events, replays of generation-1 events, of history (snapshot) events
 *    and of earlier delta events, future events — and the rebuilt generation equals brute force
 *    over every distinct event, whichever side of its entity's part each event arrived;
 *  - the barrier waits for every live server's acknowledgement (expired heartbeats do not count) and
 *    for write-behind, and names what it waited for when its bounded wait ends.
 * The 100 k-entity × 30-day size runs in `npm run bench -- rebuild` (bench/rebuild-aggregations.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  aggregationFieldNames,
  aggregationResultType,
  batchFingerprints,
  decodeEventRecord,
  encodeEventRecord,
  entityKey,
  eventRecordLayout,
  foldEventIntoFields,
  groupField,
  pendingListField,
  pendingListRecords,
  readAggregations,
  rebuildMarkerField,
  viewField,
  type AggregationFields,
  type FeatureValue,
  type RegisteredView,
} from '@tessera/core';
import { ChdbExecutor, ClickHouseOfflineStore } from '@tessera/offline';
import { LmdbMaterializeState, LmdbOnlineStore, RedisClusterOnlineStore, RedisServerHeartbeats } from '@tessera/online';
import {
  rebuildAck,
  rebuildAggregationsPart,
  rebuildBarrier,
  rebuildPlanOf,
  rebuildStateKeys,
  rebuildViewAggregations,
  servedGeneration,
} from '../src/index.js';
import {
  bruteAggregate,
  bruteDistinct,
  bruteKeyed,
  type BruteEvent,
  type BruteSpec,
  type BruteType,
} from '../../core/test/oracle/brute-force.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** The rebuild's clock: one value for every run compared; near the real clock (Redis expires keys by it). */
const NOW = Math.floor(Date.now() / 1000) * 1000 + 789;
const ENTITIES = 1_500;
const PARTS = 6;

const SPECS: readonly (BruteSpec & { name: string })[] = [
  { name: 'n_7d', fn: 'count', input: null, windowMillis: 7 * DAY, hopMillis: HOUR, n: 0, precision: 0 },
  { name: 'sum_30d', fn: 'sum', input: 0, windowMillis: 30 * DAY, hopMillis: DAY, n: 0, precision: 0 },
  { name: 'mean_30d', fn: 'mean', input: 0, windowMillis: 30 * DAY, hopMillis: DAY, n: 0, precision: 0 },
  { name: 'max_1h', fn: 'max', input: 0, windowMillis: HOUR, hopMillis: 5 * MIN, n: 0, precision: 0 },
  { name: 'last3', fn: 'last_n', input: 0, windowMillis: 0, hopMillis: 0, n: 3, precision: 0 },
  {
    name: 'products_30d',
    fn: 'approx_distinct',
    input: 1,
    windowMillis: 30 * DAY,
    hopMillis: DAY,
    n: 0,
    precision: 12,
  },
  { name: 'last_product_7d', fn: 'last', input: 1, windowMillis: 7 * DAY, hopMillis: HOUR, n: 0, precision: 0 },
  { name: 'last_at', fn: 'last_ts', input: null, windowMillis: 0, hopMillis: 0, n: 0, precision: 0 },
];
const TYPES: readonly BruteType[] = ['int64', 'string'];
const FEATURES = ['amount', 'product'] as const;

const VIEW: RegisteredView = {
  name: 'rebuild_events',
  kind: 'events',
  events: { allowedLatenessMillis: HOUR, futureToleranceMillis: MIN },
  entities: ['customer'],
  joinKeys: [{ name: 'customer_id', type: 'int64' }],
  features: FEATURES.map((name, i) => ({
    name,
    type: TYPES[i] as 'int64' | 'string',
    dimension: 0,
    constraints: { notNull: false, allowNaN: false },
    description: '',
    tags: {},
  })),
  aggregations: SPECS.map((s) => ({
    name: s.name,
    function: s.fn,
    input: s.input === null ? '' : (FEATURES[s.input] as string),
    windowMillis: s.windowMillis,
    hopMillis: s.hopMillis,
    n: s.n,
    precision: s.precision,
    groupBy: '',
    description: '',
    tags: {},
    type: aggregationResultType(s.fn, s.input === null ? undefined : (TYPES[s.input] as 'int64' | 'string')),
    specVersion: 1,
    state: 'ready' as const,
  })),
  ttlSeconds: 0,
  owner: 'tests',
  tags: {},
  description: '',
  id: 7,
  version: 1,
  createdAtMillis: 0,
  updatedAtMillis: 0,
};

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 30 days of events before NOW (a few within a minute after it: pending), some entities with none. */
function generate(): BruteEvent[] {
  const rnd = random(17);
  const events: BruteEvent[] = [];
  for (let c = 0; c < ENTITIES; c++) {
    const n = Math.floor(rnd() * 14);
    for (let i = 0; i < n; i++) {
      const ts = rnd() < 0.05 ? NOW + 1 + Math.floor(rnd() * 50_000) : NOW - Math.floor(rnd() * 31 * DAY);
      const amount = rnd() < 0.1 ? null : BigInt(Math.floor(rnd() * 1000) - 100);
      const product = rnd() < 0.1 ? null : `p${Math.floor(rnd() * 40)}`;
      events.push({ entityKey: String(c), ts, values: [amount, product] });
    }
  }
  return events;
}

let dir: string;
let offline: ClickHouseOfflineStore;
const stores: { online: LmdbOnlineStore; state: LmdbMaterializeState }[] = [];
const events = generate();

async function insert(rows: readonly BruteEvent[]): Promise<void> {
  const batch = {
    joinKeyValues: rows.map((r) => [BigInt(r.entityKey)]),
    eventTsMillis: Float64Array.from(rows.map((r) => r.ts)),
    featureValues: FEATURES.map((_, f) => rows.map((r) => (r.values[f] ?? null) as FeatureValue)),
  };
  // A history write: every row eligible, online_gen 0.
  await offline.insert(VIEW, { ...batch, fingerprints: batchFingerprints(VIEW, batch) });
}

function store(i: number): { online: LmdbOnlineStore; state: LmdbMaterializeState } {
  const s = stores[i];
  if (s === undefined) throw new Error(`no store ${i}`);
  return s;
}

const FIELD = viewField(VIEW.id, VIEW.version);
const NAMES = aggregationFieldNames(rebuildPlanOf(VIEW).plan);

/** Every field a rebuild into generation `g` may write for `customer`, raw (null when absent). */
async function rawFields(
  online: LmdbOnlineStore | RedisClusterOnlineStore,
  g: number,
  customer: number,
  view: RegisteredView = VIEW,
): Promise<(Uint8Array | null)[]> {
  const FIELD = viewField(view.id, view.version);
  const fields = [...NAMES.map((n) => `${FIELD}.g${g}.${n}`), pendingListField(FIELD, g), rebuildMarkerField(FIELD, g)];
  const [row] = await online.read([{ key: entityKey(VIEW.entities, [BigInt(customer)]), fields }]);
  return row as (Uint8Array | null)[];
}

/** The online values of `customer` at t, as the read path computes them (pending folded when due). */
async function onlineValues(
  online: LmdbOnlineStore | RedisClusterOnlineStore,
  g: number,
  customer: number,
  t: number,
  view: RegisteredView = VIEW,
): Promise<FeatureValue[]> {
  const raw = await rawFields(online, g, customer, view);
  const { plan } = rebuildPlanOf(VIEW);
  const fields: AggregationFields = new Map();
  NAMES.forEach((name, k) => {
    const bytes = raw[k];
    if (bytes !== null && bytes !== undefined) fields.set(name, bytes.slice());
  });
  const pending = raw[NAMES.length];
  if (pending !== null && pending !== undefined) {
    for (const r of pendingListRecords(pending)) {
      const { record } = decodeEventRecord(eventRecordLayout(plan), r);
      if (record.tsMillis <= t) foldEventIntoFields(plan, fields, record.tsMillis, record.fp, record.values);
    }
  }
  return readAggregations(plan, fields, t);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-rebuild-'));
  offline = await ClickHouseOfflineStore.open({
    executor: ChdbExecutor.open({ path: join(dir, 'chdb') }),
    database: 'rebuild_test',
  });
  await offline.ensureTables([VIEW]);
  await insert(events);
  // Replays: a tenth of the events land a second time (one event by fp).
  await insert(events.filter((_, i) => i % 10 === 3));
  for (const name of ['a', 'b']) {
    const online = new LmdbOnlineStore({ path: join(dir, `online-${name}`), sweepIntervalMillis: 0 });
    stores.push({ online, state: new LmdbMaterializeState(online) });
  }
}, 120_000);

afterAll(async () => {
  for (const s of stores) await s.online.close();
  await offline?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('rebuilding online tiles from offline events', () => {
  it('rebuilds every entity into generation 2 and serves the brute-force values at several times', async () => {
    const { online, state } = store(0);
    expect(await servedGeneration(state, VIEW)).toBe(1);
    let last;
    for await (const p of rebuildViewAggregations({
      offline,
      online,
      state,
      view: VIEW,
      nowMillis: NOW,
      parts: PARTS,
    })) {
      last = p;
    }
    const withEvents = new Set(events.map((e) => e.entityKey)).size;
    expect(last).toMatchObject({ done: true, generation: 2, partsDone: PARTS, entitiesWritten: withEvents });
    expect(last?.eventsRead).toBe(bruteDistinct(events).length);
    expect(await servedGeneration(state, VIEW)).toBe(2);

    const byEntity = new Map<string, BruteEvent[]>();
    for (const e of bruteDistinct(events)) byEntity.set(e.entityKey, [...(byEntity.get(e.entityKey) ?? []), e]);
    for (const t of [NOW, NOW + 40_000, NOW + 2 * DAY + 5 * MIN]) {
      for (let c = 0; c < ENTITIES; c += 3) {
        const keyed = bruteKeyed(VIEW.id, VIEW.version, TYPES, byEntity.get(String(c)) ?? []);
        const got = await onlineValues(online, 2, c, t);
        const want = SPECS.map((s) => bruteAggregate(s, TYPES, keyed, t));
        const norm = (v: unknown): unknown => (v instanceof BigInt64Array || v instanceof Float64Array ? [...v] : v);
        expect(got.map(norm), `customer ${c} at ${t}`).toEqual(want);
      }
    }
  });

  it('interrupted and resumed gives byte-identical fields to an uninterrupted run', async () => {
    const { online, state } = store(1);
    // 1. Abort once two parts are recorded.
    const abort = new AbortController();
    for await (const p of rebuildViewAggregations({
      offline,
      online,
      state,
      view: VIEW,
      nowMillis: NOW,
      parts: PARTS,
      signal: abort.signal,
    })) {
      if (p.partsDone === 2) abort.abort();
    }
    const keys = rebuildStateKeys(VIEW, 2);
    expect(await state.get(keys.parts)).toBe(2);
    expect(await servedGeneration(state, VIEW)).toBe(1);
    // 2. A "kill" after part 2 was written but before it was recorded: its entities are marked ok.
    let firstRun = { entitiesWritten: 0, entitiesSkipped: 0 };
    for await (const p of rebuildAggregationsPart({
      offline,
      online,
      view: VIEW,
      plan: rebuildPlanOf(VIEW),
      generation: 2,
      nowMillis: NOW,
      part: { index: 2, count: PARTS },
    })) {
      firstRun = p;
    }
    expect(firstRun.entitiesWritten).toBeGreaterThan(0);
    expect(firstRun.entitiesSkipped).toBe(0);
    // 3. Resumed (at a later clock: the recorded now wins) — part 2 is skipped whole by its ok markers.
    const progress = [];
    for await (const p of rebuildViewAggregations({
      offline,
      online,
      state,
      view: VIEW,
      nowMillis: NOW + DAY,
      parts: PARTS,
    })) {
      progress.push(p);
    }
    const last = progress[progress.length - 1];
    expect(last).toMatchObject({ done: true, generation: 2 });
    expect(last?.entitiesSkipped).toBe(firstRun.entitiesWritten);
    expect(await servedGeneration(state, VIEW)).toBe(2);

    for (let c = 0; c < ENTITIES; c++) {
      const [a, b] = [await rawFields(store(0).online, 2, c), await rawFields(online, 2, c)];
      expect(b.map(hex), `customer ${c}`).toEqual(a.map(hex));
    }
  });

  it('writes the same bytes into Redis Cluster (agg-write-2.lua, rebuild mode) as into LMDB, and skips marked entities there too', async () => {
    const keyPrefix = `test:${randomUUID().slice(0, 8)}:`;
    const redis = new RedisClusterOnlineStore({ nodes: inject('redisCluster').nodes, keyPrefix });
    try {
      const run = async (nowMillis: number) => {
        let last = { entitiesWritten: 0, entitiesSkipped: 0 };
        for await (const p of rebuildAggregationsPart({
          offline,
          online: redis,
          view: VIEW,
          plan: rebuildPlanOf(VIEW),
          generation: 2,
          nowMillis,
          part: { index: 0, count: 1 },
        })) {
          last = p;
        }
        return last;
      };
      const first = await run(NOW);
      expect(first.entitiesSkipped).toBe(0);
      const again = await run(NOW + HOUR);
      expect(again).toMatchObject({ entitiesWritten: 0, entitiesSkipped: first.entitiesWritten });
      for (let c = 0; c < ENTITIES; c++) {
        const [a, b] = [await rawFields(store(0).online, 2, c), await rawFields(redis, 2, c)];
        expect(b.map(hex), `customer ${c}`).toEqual(a.map(hex));
      }
      // The dedup set of generation 2 holds the recent events (a live copy of them is a duplicate).
      const recent = bruteDistinct(events).filter((e) => e.ts >= NOW - HOUR - 60_000);
      expect(recent.length).toBeGreaterThan(10);
      for (const customer of new Set(recent.slice(0, 10).map((e) => e.entityKey))) {
        const key = `${keyPrefix}${entityKey(VIEW.entities, [BigInt(customer)])}:d:${FIELD}:g2`;
        expect(await redis.cluster.zcard(key)).toBe(recent.filter((e) => e.entityKey === customer).length);
      }
    } finally {
      await redis.close();
    }
  });

  it('never merges a part twice: a rerun of a finished part skips every entity and changes no byte', async () => {
    const { online } = store(0);
    const before = await Promise.all([0, 1, 2, 3].map((c) => rawFields(online, 2, c)));
    let rerun = { entitiesWritten: -1, entitiesSkipped: 0 };
    for await (const p of rebuildAggregationsPart({
      offline,
      online,
      view: VIEW,
      plan: rebuildPlanOf(VIEW),
      generation: 2,
      nowMillis: NOW + HOUR,
      part: { index: 0, count: 1 },
    })) {
      rerun = p;
    }
    expect(rerun.entitiesWritten).toBe(0);
    expect(rerun.entitiesSkipped).toBe(new Set(events.map((e) => e.entityKey)).size);
    const after = await Promise.all([0, 1, 2, 3].map((c) => rawFields(online, 2, c)));
    expect(after.map((r) => r.map(hex))).toEqual(before.map((r) => r.map(hex)));
  });
});

/** A second view (its own tables and fields) for the live-traffic rebuilds. */
const LIVE_VIEW: RegisteredView = { ...VIEW, name: 'rebuild_live', id: 9 };
const LIVE_ENTITIES = 80;

describe('rebuilding while writes continue (dual write, design §3.6)', () => {
  const { plan, latenessMillis, retentionMillis } = rebuildPlanOf(LIVE_VIEW);
  const layout = eventRecordLayout(plan);
  const field = viewField(LIVE_VIEW.id, LIVE_VIEW.version);
  const rnd = random(23);
  let serial = 0;
  const event = (ts: number, customer = Math.floor(rnd() * LIVE_ENTITIES)): BruteEvent => ({
    entityKey: String(customer),
    ts,
    values: [BigInt(Math.floor(rnd() * 1000)), `q${serial++}`],
  });

  /** Writes `rows` as a live Write does: online first (generation `g`, dual or not), then offline with the answer. */
  async function liveWrite(
    online: LmdbOnlineStore | RedisClusterOnlineStore,
    rows: readonly BruteEvent[],
    g: number,
    dualWrite: boolean,
    acceptedAtMillis: number,
    insertNow = true,
  ): Promise<{ generations: Uint32Array; duplicates: number; insert: () => Promise<void> }> {
    const batch = {
      joinKeyValues: rows.map((r) => [BigInt(r.entityKey)]),
      eventTsMillis: Float64Array.from(rows.map((r) => r.ts)),
      featureValues: FEATURES.map((_, f) => rows.map((r) => (r.values[f] ?? null) as FeatureValue)),
    };
    const fingerprints = batchFingerprints(LIVE_VIEW, batch);
    const entityKeys = rows.map((r) => entityKey(LIVE_VIEW.entities, [BigInt(r.entityKey)]));
    const keys = [...new Set(entityKeys)];
    const result = await online.write({
      field,
      ttlMillis: 0,
      keys,
      rows: keys.map(() => {
        const row = Buffer.alloc(9);
        row.writeUInt8(1, 0);
        row.writeDoubleLE(acceptedAtMillis, 1);
        return row;
      }),
      events: {
        plan,
        generation: g,
        ...(dualWrite ? { dualWrite } : {}),
        acceptedAtMillis,
        latenessMillis,
        retentionMillis,
        entities: entityKeys.map((k) => keys.indexOf(k)),
        records: rows.map((r, i) =>
          encodeEventRecord(layout, r.ts, fingerprints.subarray(i * 16, i * 16 + 16), r.values as FeatureValue[]),
        ),
      },
    });
    const generations = result.eventGenerations ?? new Uint32Array(0);
    const insert = () =>
      offline.insert(LIVE_VIEW, { ...batch, fingerprints, onlineGenerations: Uint32Array.from(generations) });
    if (insertNow) await insert();
    return { generations, duplicates: result.duplicateEvents ?? -1, insert };
  }

  async function rebuildUnderTraffic(online: LmdbOnlineStore | RedisClusterOnlineStore, state: LmdbMaterializeState) {
    const all: BruteEvent[] = [];
    // History (offline only, online_gen 0), and live writes into generation 1 before the rebuild.
    const history = Array.from({ length: 600 }, () => event(NOW - HOUR - Math.floor(rnd() * 20 * DAY)));
    await offline.insert(LIVE_VIEW, {
      joinKeyValues: history.map((r) => [BigInt(r.entityKey)]),
      eventTsMillis: Float64Array.from(history.map((r) => r.ts)),
      featureValues: FEATURES.map((_, f) => history.map((r) => (r.values[f] ?? null) as FeatureValue)),
      fingerprints: batchFingerprints(LIVE_VIEW, {
        joinKeyValues: history.map((r) => [BigInt(r.entityKey)]),
        eventTsMillis: Float64Array.from(history.map((r) => r.ts)),
        featureValues: FEATURES.map((_, f) => history.map((r) => (r.values[f] ?? null) as FeatureValue)),
      }),
    });
    all.push(...history);
    const single = Array.from({ length: 150 }, () => event(NOW - Math.floor(rnd() * 50 * MIN)));
    await liveWrite(online, single.slice(0, 100), 1, false, NOW - 1_000);
    // Written into generation 1 alone, their offline rows still queued: the barrier waits for them.
    const queued = await liveWrite(online, single.slice(100), 1, false, NOW - 500, false);
    all.push(...single);
    let replays = 0;
    let duplicates = 0;
    let acceptedAt = NOW;
    let barrierRan = false;
    let last;
    for await (const progress of rebuildViewAggregations({
      offline,
      online,
      state,
      view: LIVE_VIEW,
      nowMillis: NOW,
      parts: PARTS,
      barrier: async (view, generation) => {
        expect([view.name, generation]).toEqual([LIVE_VIEW.name, 2]);
        await queued.insert();
        barrierRan = true;
      },
    })) {
      last = progress;
      if (progress.done) break;
      // Between parts (and batches): a dual write of new events, future ones, and replays.
      acceptedAt += 1_000;
      const fresh = Array.from({ length: 12 }, () => event(acceptedAt - Math.floor(rnd() * 30 * MIN)));
      fresh.push(event(acceptedAt + 1 + Math.floor(rnd() * 50_000))); // future: pending in both generations
      const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
      const again = [pick(single), pick(single), pick(history.filter((e) => e.ts >= acceptedAt - HOUR))];
      if (all.length > 750) again.push(pick(all.slice(750)));
      const rows = [...fresh, ...again.filter((e) => e !== undefined)];
      const written = await liveWrite(online, rows, 1, true, acceptedAt);
      expect([...written.generations.slice(0, fresh.length)]).toEqual(fresh.map(() => 2));
      replays += rows.length - fresh.length;
      duplicates += written.duplicates;
      all.push(...fresh);
    }
    expect(barrierRan).toBe(true);
    expect(last).toMatchObject({ done: true, generation: 2 });
    expect(duplicates).toBe(replays);
    expect(replays).toBeGreaterThan(3 * PARTS);
    // After the switch: writes into generation 2 alone.
    acceptedAt += 1_000;
    const after = Array.from({ length: 10 }, () => event(acceptedAt - 1));
    await liveWrite(online, [...after, single[5] as BruteEvent], 2, false, acceptedAt);
    all.push(...after);

    const byEntity = new Map<string, BruteEvent[]>();
    for (const e of bruteDistinct(all)) byEntity.set(e.entityKey, [...(byEntity.get(e.entityKey) ?? []), e]);
    for (const t of [acceptedAt, acceptedAt + 60_000, acceptedAt + 3 * DAY]) {
      for (let c = 0; c < LIVE_ENTITIES; c++) {
        const keyed = bruteKeyed(LIVE_VIEW.id, LIVE_VIEW.version, TYPES, byEntity.get(String(c)) ?? []);
        const got = await onlineValues(online, 2, c, t, LIVE_VIEW);
        const want = SPECS.map((s) => bruteAggregate(s, TYPES, keyed, t));
        const norm = (v: unknown): unknown => (v instanceof BigInt64Array || v instanceof Float64Array ? [...v] : v);
        expect(got.map(norm), `customer ${c} at ${t}`).toEqual(want);
      }
    }
  }

  beforeAll(async () => {
    await offline.ensureTables([LIVE_VIEW]);
  });

  it('ends with the rebuilt generation equal to brute force over every event (LMDB)', async () => {
    const online = new LmdbOnlineStore({ path: join(dir, 'online-live'), sweepIntervalMillis: 0 });
    try {
      await rebuildUnderTraffic(online, new LmdbMaterializeState(online));
    } finally {
      await online.close();
    }
  }, 60_000);

  it('ends with the rebuilt generation equal to brute force over every event (Redis Cluster)', async () => {
    await offline.close();
    offline = await ClickHouseOfflineStore.open({
      executor: ChdbExecutor.open({ path: join(dir, 'chdb') }),
      database: 'rebuild_test_redis',
    });
    await offline.ensureTables([LIVE_VIEW]);
    const keyPrefix = `test:${randomUUID().slice(0, 8)}:`;
    const redis = new RedisClusterOnlineStore({ nodes: inject('redisCluster').nodes, keyPrefix });
    const stateStore = new LmdbOnlineStore({ path: join(dir, 'state-live'), sweepIntervalMillis: 0 });
    try {
      await rebuildUnderTraffic(redis, new LmdbMaterializeState(stateStore));
    } finally {
      await redis.close();
      await stateStore.close();
    }
  }, 60_000);
});

/**
 * A view whose aggregations are all grouped (§1.8): its windows live in group fields per (entity,
 * product), which the rebuild folds from the events' product column, and live writes dual-write.
 */
const GROUP_SPECS = SPECS.filter((s) => ['n_7d', 'sum_30d', 'last3', 'last_at'].includes(s.name));
const GROUP_VIEW: RegisteredView = {
  ...VIEW,
  name: 'rebuild_grouped',
  id: 11,
  features: VIEW.features.map((f) =>
    f.name === 'product' ? { ...f, constraints: { ...f.constraints, notNull: true } } : f,
  ),
  aggregations: (VIEW.aggregations ?? [])
    .filter((a) => GROUP_SPECS.some((s) => s.name === a.name))
    .map((a) => ({ ...a, groupBy: 'product' })),
};
const GROUP_ENTITIES = 40;
const PRODUCTS = 5;

describe('rebuilding grouped aggregations while writes continue (group fields, §1.8 and §3.6)', () => {
  const rebuildPlan = rebuildPlanOf(GROUP_VIEW);
  const { plan, latenessMillis, retentionMillis } = rebuildPlan;
  const group = rebuildPlan.groups[0]!;
  const field = viewField(GROUP_VIEW.id, GROUP_VIEW.version);
  const groupNames = aggregationFieldNames(group.plan);
  const rnd = random(29);
  const event = (ts: number): BruteEvent => ({
    entityKey: String(Math.floor(rnd() * GROUP_ENTITIES)),
    ts,
    values: [BigInt(Math.floor(rnd() * 1000)), `g${Math.floor(rnd() * PRODUCTS)}`],
  });
  const batchOf = (rows: readonly BruteEvent[]) => ({
    joinKeyValues: rows.map((r) => [BigInt(r.entityKey)]),
    eventTsMillis: Float64Array.from(rows.map((r) => r.ts)),
    featureValues: FEATURES.map((_, f) => rows.map((r) => (r.values[f] ?? null) as FeatureValue)),
  });

  /** A live Write as the server sends it: the entity's own call (no ungrouped aggregation) and one per group field. */
  async function liveWrite(
    online: LmdbOnlineStore | RedisClusterOnlineStore,
    rows: readonly BruteEvent[],
    g: number,
    dualWrite: boolean,
    acceptedAtMillis: number,
  ): Promise<void> {
    const batch = batchOf(rows);
    const fingerprints = batchFingerprints(GROUP_VIEW, batch);
    const fp = (i: number) => fingerprints.subarray(i * 16, i * 16 + 16);
    const entityKeys = rows.map((r) => entityKey(GROUP_VIEW.entities, [BigInt(r.entityKey)]));
    const keys = [...new Set(entityKeys)];
    const step = {
      generation: g,
      ...(dualWrite ? { dualWrite } : {}),
      acceptedAtMillis,
      latenessMillis,
      retentionMillis,
    };
    const byField = new Map<string, { entities: number[]; records: Uint8Array[] }>();
    rows.forEach((r, i) => {
      const name = groupField(field, group.featureIndex, r.values[group.featureIndex] as string);
      let part = byField.get(name);
      if (part === undefined) byField.set(name, (part = { entities: [], records: [] }));
      part.entities.push(keys.indexOf(entityKeys[i]!));
      part.records.push(encodeEventRecord(eventRecordLayout(group.plan), r.ts, fp(i), r.values));
    });
    const result = await online.write({
      field,
      ttlMillis: 0,
      keys,
      rows: keys.map(() => {
        const row = Buffer.alloc(9);
        row.writeUInt8(1, 0);
        row.writeDoubleLE(acceptedAtMillis, 1);
        return row;
      }),
      events: {
        plan,
        ...step,
        entities: entityKeys.map((k) => keys.indexOf(k)),
        records: rows.map((r, i) =>
          encodeEventRecord(eventRecordLayout(plan), r.ts, fp(i), r.values as FeatureValue[]),
        ),
      },
      groupEvents: [...byField].map(([name, part]) => ({
        field: name,
        events: { plan: group.plan, ...step, ...part },
      })),
    });
    const onlineGenerations = Uint32Array.from(result.eventGenerations ?? []);
    await offline.insert(GROUP_VIEW, { ...batch, fingerprints, onlineGenerations });
  }

  /** The online values of (customer, product) in generation `g` at t, pending folded when due. */
  async function groupValues(
    online: LmdbOnlineStore | RedisClusterOnlineStore,
    g: number,
    customer: number,
    product: string,
    t: number,
  ): Promise<FeatureValue[]> {
    const gf = groupField(field, group.featureIndex, product);
    const [row] = await online.read([
      {
        key: entityKey(GROUP_VIEW.entities, [BigInt(customer)]),
        fields: [...groupNames.map((n) => `${gf}.g${g}.${n}`), pendingListField(gf, g)],
      },
    ]);
    const fields: AggregationFields = new Map();
    groupNames.forEach((name, k) => {
      const bytes = row?.[k];
      if (bytes !== null && bytes !== undefined) fields.set(name, bytes.slice());
    });
    const pending = row?.[groupNames.length];
    if (pending !== null && pending !== undefined) {
      for (const r of pendingListRecords(pending)) {
        const { record } = decodeEventRecord(eventRecordLayout(group.plan), r);
        if (record.tsMillis <= t) foldEventIntoFields(group.plan, fields, record.tsMillis, record.fp, record.values);
      }
    }
    return readAggregations(group.plan, fields, t);
  }

  async function rebuildGroupsUnderTraffic(
    online: LmdbOnlineStore | RedisClusterOnlineStore,
    state: LmdbMaterializeState,
  ): Promise<void> {
    // History (offline only: in no generation), and live writes into generation 1 before the rebuild.
    const history = Array.from({ length: 400 }, (_, i) =>
      event(i % 10 === 0 ? NOW - Math.floor(rnd() * 50 * MIN) : NOW - HOUR - Math.floor(rnd() * 20 * DAY)),
    );
    await offline.insert(GROUP_VIEW, {
      ...batchOf(history),
      fingerprints: batchFingerprints(GROUP_VIEW, batchOf(history)),
    });
    const single = Array.from({ length: 80 }, () => event(NOW - Math.floor(rnd() * 50 * MIN)));
    await liveWrite(online, single, 1, false, NOW - 1_000);
    const all = [...history, ...single];
    let acceptedAt = NOW;
    let groupFieldsWritten = 0;
    for await (const progress of rebuildViewAggregations({
      offline,
      online,
      state,
      view: GROUP_VIEW,
      nowMillis: NOW,
      parts: PARTS,
    })) {
      groupFieldsWritten = progress.groupFieldsWritten;
      if (progress.done) break;
      // Between parts: dual writes of new events, a future one, and replays of history and live events.
      acceptedAt += 1_000;
      const fresh = Array.from({ length: 8 }, () => event(acceptedAt - Math.floor(rnd() * 30 * MIN)));
      fresh.push(event(acceptedAt + 1 + Math.floor(rnd() * 50_000)));
      // Replays only of events a live Write accepts (not late: ts ≥ acceptedAt − L).
      const eligible = (list: readonly BruteEvent[]) => list.filter((e) => e.ts >= acceptedAt - HOUR);
      const pick = (list: readonly BruteEvent[]) => list[Math.floor(rnd() * list.length)];
      const again = [pick(eligible(single)), pick(eligible(history)), pick(eligible(all))];
      await liveWrite(online, [...fresh, ...again.filter((e) => e !== undefined)], 1, true, acceptedAt);
      all.push(...fresh);
    }
    expect(await servedGeneration(state, GROUP_VIEW)).toBe(2);
    // Every (entity, product) of the snapshot is a group field written.
    const snapshotGroups = new Set(bruteDistinct(history).map((e) => `${e.entityKey}/${String(e.values[1])}`));
    expect(groupFieldsWritten).toBeGreaterThanOrEqual(snapshotGroups.size);
    // After the switch: writes into generation 2 alone.
    acceptedAt += 1_000;
    const after = Array.from({ length: 10 }, () => event(acceptedAt - 1));
    await liveWrite(online, [...after, single[3]!], 2, false, acceptedAt);
    all.push(...after);

    const byGroup = new Map<string, BruteEvent[]>();
    for (const e of bruteDistinct(all)) {
      const key = `${e.entityKey}/${String(e.values[1])}`;
      byGroup.set(key, [...(byGroup.get(key) ?? []), e]);
    }
    const norm = (v: unknown): unknown => (v instanceof BigInt64Array || v instanceof Float64Array ? [...v] : v);
    for (const t of [acceptedAt, acceptedAt + 60_000, acceptedAt + 3 * DAY]) {
      for (let c = 0; c < GROUP_ENTITIES; c++) {
        for (let p = 0; p < PRODUCTS; p++) {
          const keyed = bruteKeyed(GROUP_VIEW.id, GROUP_VIEW.version, TYPES, byGroup.get(`${c}/g${p}`) ?? []);
          const got = await groupValues(online, 2, c, `g${p}`, t);
          const want = GROUP_SPECS.map((s) => bruteAggregate(s, TYPES, keyed, t));
          expect(got.map(norm), `customer ${c}, product g${p} at ${t}`).toEqual(want);
        }
      }
    }
    // Generation 1 (the pre-rebuild fields) never saw the history: the rebuild is what brings it online.
    const [c0, p0] = [...snapshotGroups][0]!.split('/') as [string, string];
    const stale = await groupValues(online, 1, Number(c0), p0, acceptedAt + 3 * DAY);
    const rebuilt = await groupValues(online, 2, Number(c0), p0, acceptedAt + 3 * DAY);
    expect(stale.map(norm)).not.toEqual(rebuilt.map(norm));
  }

  beforeAll(async () => {
    await offline.ensureTables([GROUP_VIEW]);
  });

  it('compiles the group plan and rebuilds a view whose aggregations are all grouped', () => {
    expect(plan.specs).toHaveLength(0);
    expect(rebuildPlan.groups.map((g) => [g.featureIndex, g.plan.specs.length])).toEqual([[1, GROUP_SPECS.length]]);
  });

  it('ends with every group field of the rebuilt generation equal to brute force per (entity, product) (LMDB)', async () => {
    const online = new LmdbOnlineStore({ path: join(dir, 'online-grouped'), sweepIntervalMillis: 0 });
    try {
      await rebuildGroupsUnderTraffic(online, new LmdbMaterializeState(online));
    } finally {
      await online.close();
    }
  }, 60_000);

  it('ends with every group field of the rebuilt generation equal to brute force per (entity, product) (Redis Cluster)', async () => {
    await offline.close();
    offline = await ClickHouseOfflineStore.open({
      executor: ChdbExecutor.open({ path: join(dir, 'chdb') }),
      database: 'rebuild_test_grouped_redis',
    });
    await offline.ensureTables([GROUP_VIEW]);
    const keyPrefix = `test:${randomUUID().slice(0, 8)}:`;
    const redis = new RedisClusterOnlineStore({ nodes: inject('redisCluster').nodes, keyPrefix });
    const stateStore = new LmdbOnlineStore({ path: join(dir, 'state-grouped'), sweepIntervalMillis: 0 });
    try {
      await rebuildGroupsUnderTraffic(redis, new LmdbMaterializeState(stateStore));
    } finally {
      await redis.close();
      await stateStore.close();
    }
  }, 60_000);
});

describe('the rebuild barrier (design §3.6 step 2)', () => {
  const quiet = () =>
    Promise.resolve({
      pendingJobs: 0,
      pendingRows: 0,
      oldestPendingMillis: 0,
      deadLetters: 0,
      inserted: 0,
      insertMillis: undefined,
    });

  it('waits for every live server to acknowledge, names one that never does, and ignores expired heartbeats', async () => {
    const keyPrefix = `test:${randomUUID().slice(0, 8)}:`;
    const heartbeats = new RedisServerHeartbeats(inject('redisCluster').nodes, keyPrefix);
    try {
      for (let i = 0; i < 100; i++) {
        if (
          await heartbeats.live().then(
            () => true,
            () => false,
          )
        )
          break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const ack = rebuildAck(LIVE_VIEW, 2);
      await heartbeats.beat('server-acks', [ack], 60_000);
      await heartbeats.beat('server-dead', [], 1); // expired at once: it no longer counts
      await heartbeats.beat('server-stuck', ['9.1:g1'], 60_000); // acknowledges another rebuild only
      const barrier = rebuildBarrier({
        heartbeats,
        writeBehindStats: quiet,
        timeoutMillis: 500,
        visibilityMillis: 300,
      });
      await expect(barrier(LIVE_VIEW, 2)).rejects.toThrow(
        /did not acknowledge the rebuild into tile generation 2 within 500 ms: server-stuck\./,
      );
      await heartbeats.beat('server-stuck', ['9.1:g1', ack], 60_000);
      await barrier(LIVE_VIEW, 2);
      expect([...(await heartbeats.live()).keys()].sort()).toEqual(['server-acks', 'server-stuck']);
    } finally {
      await heartbeats.close();
    }
  });

  it('waits for write-behind to insert what was queued before, and says so when it does not', async () => {
    const queuedAt = Date.now() - 10_000;
    let drained = false;
    const stats = async () => ({
      ...(await quiet()),
      pendingJobs: drained ? 0 : 3,
      oldestPendingMillis: drained ? 0 : Date.now() - queuedAt,
    });
    await expect(rebuildBarrier({ writeBehindStats: stats, timeoutMillis: 300 })(LIVE_VIEW, 2)).rejects.toThrow(
      /write-behind still holds 3 job\(s\)/,
    );
    const waiting = rebuildBarrier({ writeBehindStats: stats, timeoutMillis: 30_000 })(LIVE_VIEW, 2);
    drained = true;
    await waiting;
  });
});

function hex(bytes: Uint8Array | null | undefined): string | null {
  return bytes === null || bytes === undefined ? null : Buffer.from(bytes).toString('hex');
}
