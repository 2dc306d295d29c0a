import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/core';
import { toColumn } from '@tessera/client';
import { Durability, WriteTarget } from '@tessera/proto';
import { startRedisCluster } from '../infra/redis-cluster.js';
import type { RedisClusterHandle } from '../infra/redis-cluster.js';
import { definitionsFromYaml, startTestServer } from '../support/server.js';
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

  const write = (id: number, durability: Durability) =>
    t.client.write({
      featureView: 'balance',
      target: WriteTarget.WRITE_TARGET_ONLINE,
      durability,
      columns: { account_id: toColumn('int64', [BigInt(id)]), amount: toColumn('int64', [BigInt(id * 10)]) },
      eventTimestamps: toColumn('timestamp', [Date.now()]),
    });
  const read = (ids: number[]) =>
    t.client.getOnlineFeatures({ features: ['balance:amount'], entities: { account_id: ids.map(BigInt) } });

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMillis: 2_000 });
    await cluster.waitForHealthy({ requireReplicas: true });
    t = await startTestServer({ kind: 'redis-cluster', nodes: cluster.nodes.slice(0, 3), keyPrefix: 'faults:' });
    await t.client.apply(definitionsFromYaml(REPO));
  }, 120_000);

  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    await cluster?.stop();
  });

  it('loses no replica-acknowledged write when a master fails mid-load, and serves again after promotion', async () => {
    const acknowledged: number[] = [];
    let failed = 0;
    let id = 0;
    const writeNext = async () => {
      id++;
      try {
        await write(id, Durability.DURABILITY_REPLICATED);
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

    // Kill a master and keep writing while its replica is promoted.
    const [victim] = await cluster.masters();
    await cluster.stopNode(victim!.port);
    let promoted = false;
    const promotion = cluster.waitForHealthy({ timeoutMillis: 30_000 }).then(() => {
      promoted = true;
    });
    while (!promoted && withinBudget()) await writeNext();
    await promotion;
    // The promoted master has no replica until the old one rejoins as its replica; until then
    // replica-acknowledged writes to its slots fail rather than being acknowledged unsafely.
    await cluster.startNode(victim!.port);
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
