import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/core';
import { toColumn } from '@tessera/client';
import { Durability, WriteTarget } from '@tessera/proto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queuePrefix } from '@tessera/writebehind';
import { startWriterProcess, type WriterProcess } from '@tessera/writer';
import {
  definitionsFromYaml,
  pollUntil,
  type RedisClusterHandle,
  type RedisNodeAddress,
  sendRedisCommand,
  startRedisCluster,
} from '@tessera/testkit';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

const REPO = {
  'repo.yaml': `
project: faults
entities: [{ name: account, join_keys: [{ name: account_id, type: int64 }] }]
feature_views:
  - name: balance
    entities: [account]
    features: [{ name: amount, type: int64 }]
`,
};

/** Bounds of the write load: it stops at whichever comes first. */
const MAX_WRITES = 400;
const MAX_LOAD_MILLIS = 40_000;

/**
 * Faults of the Redis Cluster under a real server, each on a cluster of its own (the shared test
 * cluster is never disturbed).
 */
describe('the server under Redis Cluster faults', () => {
  let cluster: RedisClusterHandle;
  let t: TestServer;

  const write = (id: number, durability: Durability, target = WriteTarget.WRITE_TARGET_ONLINE) =>
    t.client.write({
      featureView: 'balance',
      target,
      durability,
      columns: { account_id: toColumn('int64', [BigInt(id)]), amount: toColumn('int64', [BigInt(id * 10)]) },
      eventTimestamps: toColumn('timestamp', [Date.now()]),
    });
  const read = (ids: number[]) =>
    t.client.getOnlineFeatures({ features: ['balance:amount'], entities: { account_id: ids.map(BigInt) } });

  let writer: WriterProcess;
  const writerDir = mkdtempSync(join(tmpdir(), 'tessera-faults-writer-'));

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMillis: 2_000 });
    await cluster.waitForHealthy({ requireReplicas: true });
    t = await startTestServer({ kind: 'redis-cluster', nodes: cluster.nodes.slice(0, 3), keyPrefix: 'faults:' });
    await t.client.apply(definitionsFromYaml(REPO));
    writer = await startWriterProcess({
      nodes: cluster.nodes.slice(0, 3),
      keyPrefix: 'faults:',
      dataDir: writerDir,
      lockMillis: 1_500,
    });
  }, 120_000);

  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    await writer?.close();
    await cluster?.stop();
    rmSync(writerDir, { recursive: true, force: true });
  });

  /** The master serving the write-behind queue's slot (all its keys share one hash tag). */
  async function queueMaster(): Promise<RedisNodeAddress> {
    const [seed] = await cluster.masters();
    const slot = (await sendRedisCommand(seed!, ['CLUSTER', 'KEYSLOT', queuePrefix('faults:')])) as number;
    const ranges = (await sendRedisCommand(seed!, ['CLUSTER', 'SLOTS'])) as [number, number, [string, number]][];
    const owner = ranges.find(([start, end]) => slot >= start && slot <= end)?.[2];
    return { host: owner![0], port: owner![1] };
  }

  it('loses no replica-acknowledged write, online or offline, when the master of the queue fails mid-load', async () => {
    const acknowledged: number[] = [];
    let failed = 0;
    let id = 0;
    const writeNext = async () => {
      id++;
      try {
        await write(id, Durability.DURABILITY_REPLICATED, WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE);
        acknowledged.push(id);
      } catch (error) {
        expect(error).toBeInstanceOf(TesseraError);
        failed++;
      }
    };
    const started = Date.now();
    const withinBudget = () => id < MAX_WRITES && Date.now() - started < MAX_LOAD_MILLIS;

    while (id < 50) await writeNext();
    expect(failed).toBe(0);

    // Kill the master holding the queue (and a third of the online keys) and keep writing while its
    // replica is promoted.
    const victim = await queueMaster();
    await cluster.stopNode(victim.port);
    let promoted = false;
    const promotion = cluster.waitForHealthy({ timeoutMillis: 30_000 }).then(() => {
      promoted = true;
    });
    while (!promoted && withinBudget()) await writeNext();
    await promotion;
    // The promoted master has no replica until the old one rejoins as its replica; until then
    // replica-acknowledged writes to its slots fail rather than being acknowledged unsafely.
    await cluster.startNode(victim.port);
    await cluster.waitForHealthy({ timeoutMillis: 30_000, requireReplicas: true });
    const failedBeforeRejoin = failed;
    const target = id + 100;
    while (id < target && withinBudget()) await writeNext();
    console.log(
      `failover: ${acknowledged.length} of ${id} writes acknowledged; ${failedBeforeRejoin} failed while a master had no replica`,
    );
    expect(failed).toBe(failedBeforeRejoin);

    const result = await read(acknowledged);
    const missing = acknowledged.filter((_, i) => result.statuses[0]![i] !== 'PRESENT');
    expect(missing).toEqual([]);
    expect(result.values[0]).toEqual(acknowledged.map((n) => BigInt(n * 10)));

    // Offline: the writer drains the queue (jobs it held on the dead master are run again, same token).
    expect(await pollUntil(async () => (await writer.stats()).pendingJobs === 0, 60_000, 100)).toBe(true);
    const offline = await writer.clickhouse!.executor.queryJson<{ id: string; n: string }>(
      'SELECT toString(account_id) AS id, toString(count()) AS n FROM tessera.fv_balance__v1 GROUP BY account_id',
    );
    const offlineCount = new Map(offline.map((r) => [Number(r.id), Number(r.n)]));
    const duplicates = [...offlineCount.values()].filter((n) => n > 1).length;
    console.log(
      `failover offline: ${acknowledged.length} acknowledged, ${offlineCount.size} present, ${duplicates} duplicates, ` +
        `${(await writer.stats()).deadLetters} dead letters`,
    );
    expect(acknowledged.filter((n) => !offlineCount.has(n))).toEqual([]);
    expect(duplicates).toBe(0);

    // Plain writes and reads work too, without a restart of the server.
    await write(100_000, Durability.DURABILITY_WRITE_BEHIND);
    expect((await read([100_000])).values[0]).toEqual([1_000_000n]);
  }, 150_000);

  it('answers UNAVAILABLE while the cluster is down, stays up, and recovers when it returns', async () => {
    for (const node of cluster.nodes) await cluster.stopNode(node.port).catch(() => undefined);
    const began = Date.now();
    const error = await read([1]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TesseraError);
    expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain((error as TesseraError).code);
    console.log(
      `cluster down: ${(error as TesseraError).code} after ${Date.now() - began} ms: ${(error as TesseraError).message}`,
    );
    const writeError = await write(1, Durability.DURABILITY_WRITE_BEHIND).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(writeError).toBeInstanceOf(TesseraError);

    for (const node of cluster.nodes) await cluster.startNode(node.port);
    await cluster.waitForHealthy({ timeoutMillis: 60_000 });
    // The nodes run without persistence, so the data is gone; the server must simply work again.
    // The registry went with it (no persistence here), so the definitions are applied again.
    let recovered = false;
    let lastError: unknown;
    for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
      try {
        await t.client.apply(definitionsFromYaml(REPO));
        await write(7, Durability.DURABILITY_WRITE_BEHIND);
        recovered = (await read([7])).values[0]![0] === 70n;
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    expect(recovered, String(lastError)).toBe(true);
  }, 180_000);
});
