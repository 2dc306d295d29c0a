/**
 * The cluster-mode refresh of SQL views (design §5.1) on the real 6-node Redis Cluster and BullMQ:
 * a server's `sync` keeps one job scheduler per SQL view version (hash-tagged prefix), a writer's
 * worker runs each tick — the interval of the tick's scheduled time, computed by the view's SELECT on
 * chDB and copied to the Redis online store — and the values online equal the offline rows. `sync`
 * removes the scheduler of a version no longer listed. The test schedules ticks every second (the
 * registry allows 1 min at least; the queue takes what it is given), the view's own period is a day.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  decodeRow,
  emptyRegistryState,
  entityKey,
  latestView,
  parseRepository,
  planApply,
  readRowEventTs,
  sqlViewRefreshInterval,
  viewField,
  type Definitions,
  type RegisteredView,
} from '@tessera/core';
import { sqlRefreshTickRunner } from '@tessera/materialize';
import { ChdbExecutor, ClickHouseOfflineStore } from '@tessera/offline';
import { RedisClusterOnlineStore } from '@tessera/online';
import { BullmqSqlRefreshScheduler, startSqlRefreshWorker, sqlRefreshSchedulerId } from '@tessera/writebehind';

const DAY = 86_400_000;
const { nodes } = inject('redisCluster');
const keyPrefix = `sqlref-${randomUUID().slice(0, 8)}:`;

const REPO = `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
  - { name: category, join_keys: [category] }
feature_views:
  - name: purchases
    entities: [customer]
    features: [{ name: amount, type: double }, { name: category, type: string }]
sql_views:
  - name: daily_revenue
    entities: [category]
    sql: |
      SELECT assumeNotNull(category) AS category, toStartOfDay(event_ts) AS event_ts, sum(amount) AS revenue
      FROM {{ purchases }}
      WHERE event_ts >= {start:DateTime64(3)} AND event_ts < {end:DateTime64(3)} AND category IS NOT NULL
      GROUP BY category, event_ts
    schedule: { every: 1d, delay: 1h }
    features: [{ name: revenue, type: double }]
`;

const parsed = parseRepository([{ path: 'repo.yaml', text: REPO }]);
const state = planApply(emptyRegistryState(), parsed.definitions as Definitions, { nowMillis: 0 }).next;
const purchases = latestView(state, 'purchases') as RegisteredView;
const daily = latestView(state, 'daily_revenue') as RegisteredView;

/** Purchases on each of the last four UTC days: whichever day a tick refreshes has rows. */
const today = Math.floor(Date.now() / DAY) * DAY;
const EVENTS = Array.from({ length: 48 }, (_, i) => ({
  customer: BigInt(i % 5),
  ts: today - 4 * DAY + Math.floor((i * 4 * DAY) / 48) + 11,
  amount: (i % 6) + 0.5,
  category: i % 2 === 0 ? 'books' : 'toys',
}));

let dir: string;
let offline: ClickHouseOfflineStore;
let online: RedisClusterOnlineStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-sql-refresh-'));
  offline = await ClickHouseOfflineStore.open({
    executor: ChdbExecutor.open({ path: join(dir, 'chdb') }),
    database: 'sql_refresh',
  });
  await offline.ensureTables([purchases, daily]);
  online = new RedisClusterOnlineStore({ nodes, keyPrefix });
  await offline.insert(purchases, {
    joinKeyValues: EVENTS.map((e) => [e.customer]),
    eventTsMillis: Float64Array.from(EVENTS.map((e) => e.ts)),
    featureValues: [EVENTS.map((e) => e.amount), EVENTS.map((e) => e.category)],
  });
}, 120_000);

afterAll(async () => {
  await online?.close();
  await offline?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the cluster-mode refresh of SQL views (Redis Cluster + BullMQ)', () => {
  it('runs a repeatable job per SQL view version on the writers; values online equal the offline rows', async () => {
    const scheduler = new BullmqSqlRefreshScheduler({ nodes, keyPrefix });
    const ticks: number[] = [];
    const run = sqlRefreshTickRunner({
      offline,
      online,
      findView: (name, version) => (name === daily.name && version === daily.version ? daily : undefined),
    });
    const worker = await startSqlRefreshWorker({
      nodes,
      keyPrefix,
      run: async (data, tick) => {
        await run(data, tick);
        ticks.push(tick);
      },
    });
    try {
      const ids = await scheduler.sync([{ view: 'daily_revenue', version: 1, everyMillis: 1_000, delayMillis: 0 }]);
      expect(ids).toEqual([sqlRefreshSchedulerId('daily_revenue', 1)]);
      expect(await scheduler.schedulerIds()).toEqual(['sql:daily_revenue@1']);
      // Bounded wait for two ticks (each a whole refresh: INSERT … SELECT on chDB, then the online copy).
      for (let i = 0; i < 300 && ticks.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      expect(ticks.length).toBeGreaterThanOrEqual(2);
      expect(ticks[1]).toBeGreaterThan(ticks[0]!);

      const { startMillis: day } = sqlViewRefreshInterval(daily.sql!, ticks.at(-1)!);
      for (const category of ['books', 'toys']) {
        const sum = EVENTS.filter((e) => e.category === category && e.ts >= day && e.ts < day + DAY).reduce(
          (a, e) => a + e.amount,
          0,
        );
        const [[row]] = (await online.read([
          { key: entityKey(daily.entities, [category]), fields: [viewField(daily.id, daily.version)] },
        ])) as [[Uint8Array | null]];
        expect(row).not.toBeNull();
        expect(readRowEventTs(row!)).toBe(day);
        const [revenue] = decodeRow(['double'], row!, [0]);
        expect(revenue).toBeCloseTo(sum, 9);
        let stored: unknown;
        for await (const batch of offline.latestRows(daily, { startMillis: day, endMillis: day + 1, batchRows: 10 })) {
          for (const r of batch) if (r.keys[0] === category) stored = r.features[0];
        }
        expect(stored).toBe(revenue);
      }

      // A version no longer listed loses its scheduler.
      expect(await scheduler.sync([])).toEqual([]);
      expect(await scheduler.schedulerIds()).toEqual([]);
    } finally {
      await worker.close();
      await scheduler.close();
    }
  }, 60_000);
});
