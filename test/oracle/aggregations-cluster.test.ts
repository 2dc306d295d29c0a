/**
 * The aggregation oracle on the cluster stack (docs/design/window-aggregations.md §1.11, §6.2): the
 * suite's 6-node Redis Cluster (agg-write-2.lua tiles), BullMQ write-behind, a writer and an offline
 * server over chDB, all real, with a feature server in cluster mode in this process whose clock is
 * injected. The same streams and checks as the embedded oracle (./aggregation-oracle.ts): online ==
 * brute force at every read; with the queue drained and no dead letter, offline == brute force over
 * every accepted event and online == offline wherever no late arrival separates them.
 *
 * Companions (§6.2): the same batch three times and the same rows under an idempotency key change no
 * aggregate online or offline; every write-behind job inserted a second time (a new token: ClickHouse
 * keeps both copies) changes no offline aggregate. CI runs ORACLE_RUNS (default 20) streams; the
 * seed is printed (ORACLE_SEED replays one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import fc from 'fast-check';
import { silentLogger } from '@tessera/core';
import { startOfflineServer, type OfflineServer } from '@tessera/feature-server';
import { createRedisCluster } from '@tessera/redis';
import { definitionsFromYaml, pollUntil } from '@tessera/testkit';
import { OFFLINE_QUEUE, queuePrefix, type OfflineJobData } from '@tessera/writebehind';
import { startWriterProcess, type WriterProcess } from '@tessera/writer';
import { startTestServer, type TestServer } from '../support/server.js';
import { AggregationOracle, writeRequest, type OracleClock, type OracleRow } from './aggregation-oracle.js';
import { ORACLE_SEED, arbStream, oracleRuns, repository } from './aggregation-streams.js';

const RUNS = oracleRuns(20);
const SEED = ORACLE_SEED;
/** Bounds each wait for the queue to drain (no timing is asserted). */
const DRAIN_MILLIS = 120_000;

const { nodes } = inject('redisCluster');
const keyPrefix = `orc${randomBytes(4).toString('hex')}:`;
const dir = mkdtempSync(join(tmpdir(), 'tessera-oracle-cluster-'));
// The clock starts at the real time and only moves forward (Redis expiry runs on real time: never inside a case).
const clock: OracleClock = { now: Date.now() };
let offline: OfflineServer;
let writer: WriterProcess;
let server: TestServer;
const oracle = new AggregationOracle(() => server.client, clock);

beforeAll(async () => {
  offline = await startOfflineServer({
    port: 0,
    dataDir: dir,
    apiKeys: { kind: 'redis-cluster', nodes, keyPrefix },
    logger: silentLogger,
  });
  server = await startTestServer(
    { kind: 'redis-cluster', nodes, keyPrefix, offlineServer: { address: offline.address } },
    { logger: silentLogger, clock: () => clock.now },
  );
  writer = await startWriterProcess({
    nodes,
    keyPrefix,
    offlineServer: { address: offline.address },
    logger: silentLogger,
  });
  await server.client.apply(definitionsFromYaml({ 'repo.yaml': repository() }));
  await oracle.loadViewIds();
}, 120_000);

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  await writer?.close();
  await offline?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Waits until the writer has inserted every job; asserts no dead letter. */
async function drain(): Promise<void> {
  const drained = await pollUntil(async () => (await writer.stats()).pendingJobs === 0, DRAIN_MILLIS, 50);
  expect(drained, `queue not drained: ${JSON.stringify(await writer.stats())}`).toBe(true);
  expect((await writer.stats()).deadLetters).toBe(0);
}

describe('aggregation oracle, cluster (6-node Redis Cluster + BullMQ + writer + chDB)', () => {
  it(`online == brute force, offline == brute force, online == offline (§1.11) for ${RUNS} random streams (seed ${SEED})`, async () => {
    console.log(`aggregation oracle (cluster): seed ${SEED}, ${RUNS} runs (ORACLE_SEED / ORACLE_RUNS to change)`);
    await fc.assert(
      fc.asyncProperty(arbStream, async (ops) => {
        const problem = await oracle.run(ops);
        expect(problem).toBeUndefined();
      }),
      { numRuns: RUNS, seed: SEED, verbose: 1 },
    );
    await drain();
    expect(await oracle.compareOffline()).toEqual([]);
    console.log(`aggregation oracle (cluster): ${JSON.stringify(oracle.counts)}`);
    expect(oracle.counts.onlineNonEmpty).toBeGreaterThan(0);
    expect(oracle.counts.onlineEqualsOffline).toBeGreaterThan(0);

    // Every write-behind job inserted once more under a new job id (so a new insert token: ClickHouse
    // keeps both copies of every row): offline aggregates count each event once all the same.
    const connection = createRedisCluster({ nodes });
    const queue = new Queue<OfflineJobData>(OFFLINE_QUEUE, { connection, prefix: queuePrefix(keyPrefix) });
    try {
      const done = await queue.getJobs(['completed'], 0, 10_000);
      expect(done.length).toBeGreaterThan(0);
      const insertedBefore = (await writer.stats()).inserted;
      for (const job of done) await queue.add(job.name, job.data, { jobId: `again-${randomUUID()}` });
      await drain();
      expect((await writer.stats()).inserted - insertedBefore).toBe(done.length);
      expect(await oracle.compareOffline()).toEqual([]);
      console.log(`aggregation oracle (cluster): ${done.length} write-behind jobs inserted twice, offline unchanged`);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, 600_000);

  it('the same batch three times and under an idempotency key changes no aggregate, online or offline', async () => {
    const base = 99_000_000n;
    const rows: OracleRow[] = [
      { id: base, ts: clock.now - 10, values: [5n, 1.5, 'x', 1, true] },
      { id: base, ts: clock.now - 5, values: [7n, 2.5, 'y', 2, false] },
      { id: base + 1n, ts: clock.now - 5, values: [1n, null, null, null, null] },
    ];
    const refs = ['ev_a:w0_0', 'ev_a:w0_2', 'ev_a:w0_5', 'ev_a:w1_23'];
    const ids = [base, base + 1n];
    const online = async () => (await server.client.getOnlineFeatures(refs, { customer_id: ids })).values;
    const historical = async () => {
      const table = await server.client.getHistoricalFeatures(
        { keys: { customer_id: ids }, eventTimestamps: [clock.now, clock.now] },
        refs,
      );
      return refs.map((ref) => Array.from(table.getChild(ref.replace(':', '__')) ?? [], (v: unknown) => v));
    };
    expect((await server.client.write(writeRequest('ev_a', rows))).rowsDuplicateEvents).toBe(0n);
    await drain();
    const onlineBefore = await online();
    expect(onlineBefore).toEqual([
      [2n, 1n],
      [12n, 1n],
      [2, null],
      [2n, 0n],
    ]);
    const offlineBefore = await historical();
    expect(offlineBefore).toEqual(onlineBefore);
    for (let i = 0; i < 3; i++)
      expect((await server.client.write(writeRequest('ev_a', rows))).rowsDuplicateEvents).toBe(3n);
    const keyed = { ...writeRequest('ev_a', rows), idempotencyKey: `oracle-replay-${keyPrefix}` };
    const once = await server.client.write(keyed);
    expect(once.rowsDuplicateEvents).toBe(3n);
    expect(await server.client.write(keyed)).toEqual(once);
    await drain();
    expect(await online()).toEqual(onlineBefore);
    expect(await historical()).toEqual(offlineBefore);
  }, 120_000);
});
