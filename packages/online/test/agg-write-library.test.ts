// agg-write-2.lua as a Redis Functions library (design §3.3, "Decided in the luawrite increment"):
// a master without the library — FUNCTION DELETE / FUNCTION FLUSH by an operator, a new master —
// gets it loaded by the store and the write retried, each event applied once; two versions'
// libraries live side by side (a rolling upgrade).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import calculateSlot from 'cluster-key-slot';
import { Redis, type Cluster } from 'ioredis';
import { HOUR_MILLIS, DAY_MILLIS, type AggregationPlan, type OnlineWriteBatch } from '@tessera/core';
import { RedisClusterOnlineStore } from '../src/index.js';
import { AGG_WRITE_FILE_TEXT, AGG_WRITE_LIBRARY, aggWriteLibrary } from '../src/internal/agg-write-script.js';
import { packRow } from './online-store-suite.js';
import { freshKeyPrefix, sharedRedisNodes } from './support/shared-redis-cluster.js';
import { applyEntityEventsModel, newEntityModel, type EntityModel } from './support/agg-events-model.js';
import { Picker, randomPlan, randomRecord, seededRandom } from './support/agg-random.js';

const keyPrefix = freshKeyPrefix();
const FIELD = 'lib.1';
let store: RedisClusterOnlineStore;
let cluster: Cluster;

beforeAll(async () => {
  store = new RedisClusterOnlineStore({ nodes: sharedRedisNodes(), keyPrefix });
  await store.ping();
  cluster = store.cluster;
});
afterAll(async () => {
  await store.close();
});

const masters = (): Redis[] => cluster.nodes('master');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function hasLibrary(node: Redis, name: string): Promise<boolean> {
  const list = (await node.call('FUNCTION', 'LIST', 'LIBRARYNAME', name)) as unknown[];
  return list.length > 0;
}

async function deleteLibrary(node: Redis, name: string): Promise<void> {
  await node.call('FUNCTION', 'DELETE', name).catch((error: unknown) => {
    if (!String(error).includes('Library not found')) throw error;
  });
}

/** Keys on all three masters (by the client's slot table). */
function keysOnEveryMaster(count: number, tag: string): string[] {
  const seen = new Set<string>();
  const keys: string[] = [];
  for (let i = 0; keys.length < count || seen.size < 3; i++) {
    if (i > 10_000) throw new Error('no keys on three masters');
    const key = `{${tag}:${i}}`;
    const master = cluster.slots[calculateSlot(keyPrefix + key)]?.[0];
    if (master === undefined) continue;
    if (keys.length < count || !seen.has(master)) {
      seen.add(master);
      keys.push(key);
    }
  }
  return keys;
}

function batchOf(plan: AggregationPlan, keys: string[], acceptedAt: number, p: Picker): OnlineWriteBatch {
  const records: Uint8Array[] = [];
  const entities: number[] = [];
  keys.forEach((_, k) => {
    for (let e = 0; e < 3; e++) {
      records.push(randomRecord(p, plan, acceptedAt - p.int(0, HOUR_MILLIS - 1)));
      entities.push(k);
    }
  });
  return {
    field: FIELD,
    ttlMillis: DAY_MILLIS,
    keys,
    rows: keys.map(() => packRow(acceptedAt, 'row')),
    events: {
      plan,
      generation: 1,
      acceptedAtMillis: acceptedAt,
      latenessMillis: HOUR_MILLIS,
      retentionMillis: 40 * DAY_MILLIS,
      entities,
      records,
    },
  };
}

async function storedAggFields(key: string): Promise<Record<string, string>> {
  const all = await cluster.hgetallBuffer(keyPrefix + key);
  const out: Record<string, string> = {};
  for (const [name, bytes] of Object.entries(all)) if (name.startsWith(`${FIELD}.`)) out[name] = bytes.toString('hex');
  return out;
}

function expectedFields(model: EntityModel): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, bytes] of model.fields) out[`${FIELD}.g1.${name}`] = Buffer.from(bytes).toString('hex');
  if (model.pending !== undefined) out[`${FIELD}.pend`] = Buffer.from(model.pending).toString('hex');
  return out;
}

describe('the aggregation write library on Redis', () => {
  it('is loaded again where an operator deleted or flushed it, mid-traffic, and every event counts once', async () => {
    const p = new Picker(seededRandom(4242));
    const plan = randomPlan(p, ['count', 'sum', 'max']);
    const keys = keysOnEveryMaster(9, 'lib');
    const models = keys.map(() => newEntityModel());
    const apply = (batch: OnlineWriteBatch): void => {
      const events = batch.events!;
      keys.forEach((_, k) => {
        const mine = events.records.filter((_r, e) => events.entities[e] === k);
        applyEntityEventsModel(plan, models[k]!, events.acceptedAtMillis, HOUR_MILLIS, mine);
      });
    };
    const write = async (batch: OnlineWriteBatch): Promise<void> => {
      const result = await store.write(batch);
      expect(result).toMatchObject({ applied: keys.length, stale: 0, duplicateEvents: 0 });
      apply(batch);
    };
    await write(batchOf(plan, keys, Date.now(), p));
    // An operator deletes the library on every master: the next write loads it on each and retries.
    for (let round = 0; round < 2; round++) {
      await Promise.all(masters().map((node) => deleteLibrary(node, AGG_WRITE_LIBRARY.name)));
      for (const node of masters()) expect(await hasLibrary(node, AGG_WRITE_LIBRARY.name)).toBe(false);
      await write(batchOf(plan, keys, Date.now(), p));
      for (const node of masters()) expect(await hasLibrary(node, AGG_WRITE_LIBRARY.name)).toBe(true);
    }
    // FUNCTION FLUSH on one master (everything there goes, other libraries too).
    const flushed = masters()[0]!;
    await flushed.call('FUNCTION', 'FLUSH', 'SYNC');
    await write(batchOf(plan, keys, Date.now(), p));
    expect(await hasLibrary(flushed, AGG_WRITE_LIBRARY.name)).toBe(true);
    // Deletions racing writes in flight: whichever way each call falls, it is applied exactly once.
    for (let round = 0; round < 5; round++) {
      const batch = batchOf(plan, keys, Date.now(), p);
      await Promise.all([write(batch), ...masters().map((node) => deleteLibrary(node, AGG_WRITE_LIBRARY.name))]);
    }
    await write(batchOf(plan, keys, Date.now(), p));
    for (let k = 0; k < keys.length; k++) {
      expect(await storedAggFields(keys[k]!), keys[k]).toEqual(expectedFields(models[k]!));
    }
  }, 60_000);

  it('leaves another version’s library alone and keeps its own name (a rolling upgrade)', async () => {
    const other = aggWriteLibrary(AGG_WRITE_FILE_TEXT + '\n-- another server version\n');
    expect(other.name).not.toBe(AGG_WRITE_LIBRARY.name);
    expect(other.functionName).not.toBe(AGG_WRITE_LIBRARY.functionName);
    await Promise.all(masters().map((node) => node.call('FUNCTION', 'LOAD', 'REPLACE', other.code)));
    await Promise.all(masters().map((node) => deleteLibrary(node, AGG_WRITE_LIBRARY.name)));
    const p = new Picker(seededRandom(77));
    const plan = randomPlan(p, ['count']);
    const keys = keysOnEveryMaster(3, 'upgrade');
    const result = await store.write(batchOf(plan, keys, Date.now(), p));
    expect(result).toMatchObject({ applied: keys.length, duplicateEvents: 0 });
    for (const node of masters()) {
      expect(await hasLibrary(node, AGG_WRITE_LIBRARY.name)).toBe(true);
      expect(await hasLibrary(node, other.name)).toBe(true);
    }
    // The replicas hold ours by replication (so a failover to one needs no load): each master's
    // replicas from INFO replication, asked directly (bounded waits).
    const replicas: { host: string; port: number }[] = [];
    for (const node of masters()) {
      let found: { host: string; port: number }[] = [];
      for (let i = 0; i < 50 && found.length === 0; i++) {
        const info = await node.info('replication');
        found = [...info.matchAll(/^slave\d+:ip=([^,]+),port=(\d+),state=online/gm)].map((m) => ({
          host: m[1]!,
          port: Number(m[2]),
        }));
        if (found.length === 0) await sleep(200);
      }
      expect(found.length, `replicas of ${node.options.host}:${node.options.port}`).toBeGreaterThan(0);
      replicas.push(...found);
    }
    for (const address of replicas) {
      const replica = new Redis({ ...address, lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await replica.connect();
        let present = false;
        for (let i = 0; i < 50 && !present; i++) {
          present = await hasLibrary(replica, AGG_WRITE_LIBRARY.name);
          if (!present) await sleep(100);
        }
        expect(present, `library on replica ${address.host}:${address.port}`).toBe(true);
      } finally {
        replica.disconnect();
      }
    }
    await Promise.all(masters().map((node) => deleteLibrary(node, other.name)));
  });
});
