/**
 * A tile rebuild under live traffic on the cluster stack (docs/design/window-aggregations.md §3.6):
 * the suite's 6-node Redis Cluster, BullMQ write-behind, a writer and an offline server over chDB,
 * and two feature servers in cluster mode (injected clock) taking writes while the rebuild runs.
 * Server A runs the rebuild (Materialize with `aggregations`, its event rows read through the
 * offline server) with the barrier of §3.6 step 2: it waits for both servers' heartbeats to
 * acknowledge the rebuild and for the queue to hold no job enqueued before. Writes during it: new events, replays of generation-1
 * events and of earlier ones, late events, future events, on both servers, write-behind and sync.
 * At the end both servers serve the rebuilt generation and online == GetHistorical for every entity.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fromColumn, toColumn } from '@tessera/client';
import { silentLogger, type RegisteredView } from '@tessera/core';
import { startOfflineServer, type OfflineServer } from '@tessera/feature-server';
import { rebuildAck } from '@tessera/materialize';
import { RedisServerHeartbeats } from '@tessera/online';
import { Durability, HistoricalFormat, WriteTarget } from '@tessera/proto';
import type { GetHistoricalResponse } from '@tessera/proto';
import { definitionsFromYaml, pollUntil } from '@tessera/testkit';
import { fromProtoView } from '@tessera/wire';
import { startWriterProcess, type WriterProcess } from '@tessera/writer';
import { startTestServer, type TestServer } from '../support/server.js';
import { purchasesWrite, type PurchaseRow } from '../support/purchase-writes.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const CUSTOMERS = 60;
const REPO = `
project: rebuild_cluster
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: purchases
    kind: events
    entities: [customer]
    allowed_lateness: 1h
    features:
      - { name: amount, type: int64 }
      - { name: product, type: string }
    aggregations:
      - { name: purchases_7d, function: count, window: 7d }
      - { name: revenue_30d, function: sum, input: amount, window: 30d }
      - { name: products_30d, function: approx_distinct, input: product, window: 30d }
      - { name: last_3_amounts, function: last_n, n: 3, input: amount, window: unbounded }
      - { name: biggest_1h, function: max, input: amount, window: 1h }
`;
const AGGREGATIONS = ['purchases_7d', 'revenue_30d', 'products_30d', 'last_3_amounts', 'biggest_1h'];
const REFS = AGGREGATIONS.map((a) => `purchases:${a}`);

type Row = PurchaseRow;

const write = (rows: readonly Row[], durability: Durability, target?: WriteTarget) =>
  purchasesWrite(rows, durability, target);

const { nodes } = inject('redisCluster');
const keyPrefix = `rbc${randomBytes(4).toString('hex')}:`;
const dir = mkdtempSync(join(tmpdir(), 'tessera-rebuild-cluster-'));
let now = Math.floor(Date.now() / 1000) * 1000;
let offlineServer: OfflineServer;
let writer: WriterProcess;
let servers: TestServer[] = [];
const ids = Array.from({ length: CUSTOMERS }, (_, i) => BigInt(i + 1));

beforeAll(async () => {
  offlineServer = await startOfflineServer({
    port: 0,
    dataDir: dir,
    apiKeys: { kind: 'redis-cluster', nodes, keyPrefix },
    logger: silentLogger,
  });
  const backend = {
    kind: 'redis-cluster' as const,
    nodes,
    keyPrefix,
    offlineServer: { address: offlineServer.address },
  };
  servers = [
    await startTestServer(backend, { logger: silentLogger, clock: () => now }),
    await startTestServer(backend, { logger: silentLogger, clock: () => now }),
  ];
  writer = await startWriterProcess({
    nodes,
    keyPrefix,
    offlineServer: { address: offlineServer.address },
    logger: silentLogger,
  });
  await servers[0]!.client.apply(definitionsFromYaml({ 'repo.yaml': REPO }));
}, 120_000);

afterAll(async () => {
  for (const s of servers) await s[Symbol.asyncDispose]();
  await writer?.close();
  await offlineServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Online values (and the t each was served at) from `server`, and GetHistorical at those t. */
async function bothSides(server: TestServer): Promise<{ online: unknown[][]; offline: unknown[][] }> {
  const got = await server.client.getOnlineFeatures(REFS, { customer_id: ids }, { includeEventTimestamps: true });
  const at = ids.map((_, k) => got.eventTimestamps?.[0]?.[k] ?? -1);
  const chunks: GetHistoricalResponse[] = [];
  for await (const chunk of server.client.getHistorical({
    entities: {
      $case: 'rows',
      value: { keys: { customer_id: toColumn('int64', ids) }, eventTimestamps: at.map(BigInt), passthrough: {} },
    },
    features: REFS,
    featureService: '',
    format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
    chunkRows: 1000,
  })) {
    chunks.push(chunk);
  }
  const names = chunks[0]?.names ?? [];
  const norm = (v: unknown): unknown => (ArrayBuffer.isView(v) ? [...(v as BigInt64Array)] : v);
  return {
    online: got.values.map((column) => column.map(norm)),
    offline: AGGREGATIONS.map((a) => {
      const i = names.indexOf(`purchases__${a}`);
      return chunks.flatMap((c) => fromColumn(c.columns[i]!)).map(norm);
    }),
  };
}

describe('materialize --aggregations under live traffic (cluster: two servers, BullMQ, offline server)', () => {
  it('ends with both servers serving the rebuilt generation, online == GetHistorical for every entity', async () => {
    const [a, b] = servers as [TestServer, TestServer];
    let seed = 5;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const customer = (): bigint => ids[Math.floor(rnd() * (ids.length - 1))] as bigint;
    const fresh = (): Row => [
      customer(),
      now - 1 - Math.floor(rnd() * 50 * MINUTE),
      BigInt(Math.floor(rnd() * 500)),
      `p${Math.floor(rnd() * 20)}`,
    ];
    // History (offline only), then live writes into generation 1 alone, through both servers.
    const history: Row[] = Array.from({ length: 400 }, () => [
      customer(),
      now - HOUR - Math.floor(rnd() * 30 * DAY),
      BigInt(Math.floor(rnd() * 500)),
      'h',
    ]);
    await a.client.write(write(history, Durability.DURABILITY_WRITE_BEHIND, WriteTarget.WRITE_TARGET_OFFLINE));
    const before: Row[] = Array.from({ length: 40 }, fresh);
    await a.client.write(write(before.slice(0, 20), Durability.DURABILITY_WRITE_BEHIND));
    await b.client.write(write(before.slice(20), Durability.DURABILITY_WRITE_BEHIND));

    const list = await a.client.list();
    const view: RegisteredView = fromProtoView(list.featureViews.find((v) => v.name === 'purchases')!);
    const heartbeats = new RedisServerHeartbeats(nodes, keyPrefix);
    try {
      // Its client fails fast until the cluster connection is ready.
      const ready = () =>
        heartbeats.live().then(
          () => true,
          () => false,
        );
      expect(await pollUntil(ready, 10_000, 50)).toBe(true);
      const run = a.client.materialize({ featureViews: ['purchases'], aggregations: true });
      let finished = false;
      const result = run.finally(() => {
        finished = true;
      });
      const sent: Row[] = [...before];
      let writes = 0;
      for (let i = 0; i < 400 && !finished; i++, writes++) {
        const rows: Row[] = [fresh(), fresh(), fresh()];
        rows.push(before[Math.floor(rnd() * before.length)] as Row); // a generation-1 copy
        rows.push(sent[Math.floor(rnd() * sent.length)] as Row);
        rows.push([customer(), now - 2 * HOUR, 1n, 'late']);
        rows.push([customer(), now + 20_000 + i, 3n, 'future']);
        const durability = i % 3 === 0 ? Durability.DURABILITY_SYNC : Durability.DURABILITY_WRITE_BEHIND;
        await (i % 2 === 0 ? a : b).client.write(write(rows, durability));
        sent.push(...rows.slice(0, 3), rows[6] as Row);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const finals = await result;
      console.log(`cluster rebuild under traffic: ${writes} writes while it ran`);
      expect(finals[0]).toMatchObject({ featureView: 'purchases@1', done: true });
      expect(writes).toBeGreaterThan(10);
      // Both servers serve generation 2 within a refresh: they stop acknowledging the rebuild then.
      const switched = await pollUntil(
        async () => [...(await heartbeats.live()).values()].every((acks) => !acks.includes(rebuildAck(view, 2))),
        20_000,
        100,
      );
      expect(switched).toBe(true);
      // Once the queue drained, online (either server) equals GetHistorical at the served t.
      expect(await pollUntil(async () => (await writer.stats()).pendingJobs === 0, 60_000, 50)).toBe(true);
      expect((await writer.stats()).deadLetters).toBe(0);
      for (const server of [a, b]) {
        const sides = await bothSides(server);
        expect(sides.online[0]?.some((v) => v !== 0n)).toBe(true);
        expect(sides.online).toEqual(sides.offline);
      }
      now += 30_000; // the future events are due: folded at the read
      const later = await bothSides(b);
      expect(later.online).toEqual(later.offline);
    } finally {
      await heartbeats.close();
    }
  }, 120_000);
});
