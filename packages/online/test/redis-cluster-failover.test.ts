import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTesseraError } from '@tessera/core';
import { startRedisCluster, type RedisClusterHandle } from '@tessera/testkit';
import { RedisClusterOnlineStore } from '../src/index.js';
import { packRow, payloadOf } from './online-store-suite.js';
import { freshKeyPrefix } from './support/shared-redis-cluster.js';

function sleep(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, millis));
}

async function pollUntil(condition: () => Promise<boolean>, timeoutMillis: number): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMillis} ms`);
    await sleep(100);
  }
}

/**
 * Tests that kill nodes run on a cluster of their own, never on the shared one.
 */
describe('RedisClusterOnlineStore on a dedicated cluster', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMillis: 1_000 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('recovers from a master failover mid-load and loses no write acknowledged with replicas: 1', async () => {
    const store = new RedisClusterOnlineStore({ nodes: [...cluster.nodes], keyPrefix: freshKeyPrefix() });
    try {
      const [victim] = await cluster.masters();
      type Phase = 'before' | 'promoted' | 'rejoined';
      let phase: Phase = 'before';
      const ok = {
        durable: { before: 0, promoted: 0, rejoined: 0 },
        plain: { before: 0, promoted: 0, rejoined: 0 },
        reads: { before: 0, promoted: 0, rejoined: 0 },
      };
      const acknowledged = new Map<string, string>();
      let running = true;
      let next = 0;
      const expectRetriable = (error: unknown): void => {
        if (!isTesseraError(error) || !['UNAVAILABLE', 'DEADLINE_EXCEEDED'].includes(error.code)) throw error;
      };

      const writer = async (replicas: number): Promise<void> => {
        while (running) {
          const keys = Array.from({ length: 20 }, () => `{fo:${next++}}`);
          const payloads = keys.map((key) => `${key}@${Date.now()}`);
          const rows = payloads.map((payload) => packRow(Date.now(), payload));
          try {
            await store.write(
              { field: 'f.1', ttlMillis: 0, keys, rows },
              { replicas, deadlineMillis: Date.now() + 3_000 },
            );
            if (replicas > 0) keys.forEach((key, i) => acknowledged.set(key, payloads[i]!));
            ok[replicas > 0 ? 'durable' : 'plain'][phase]++;
          } catch (error) {
            expectRetriable(error);
          }
        }
      };
      const reader = async (): Promise<void> => {
        while (running) {
          const keys = [...acknowledged.keys()].slice(-50);
          try {
            await store.read(
              keys.map((key) => ({ key, fields: ['f.1'] })),
              { deadlineMillis: Date.now() + 3_000 },
            );
            ok.reads[phase]++;
          } catch (error) {
            expectRetriable(error);
          }
          await sleep(5);
        }
      };
      const load = Promise.all([writer(1), writer(1), writer(0), reader()]);

      await sleep(500);
      await cluster.stopNode(victim!.port);
      // Its replica takes over its slots after the node timeout; it has no replica of its own
      // until the old master comes back, so durable writes to its slots must fail meanwhile.
      await pollUntil(async () => {
        const masters = await cluster.masters();
        return masters.length === 3 && !masters.some((m) => m.port === victim!.port);
      }, 20_000);
      phase = 'promoted';
      await sleep(1_500);
      await cluster.startNode(victim!.port);
      await cluster.waitForHealthy({ requireReplicas: true });
      phase = 'rejoined';
      await sleep(1_000);
      running = false;
      await load;

      expect(ok.reads.promoted).toBeGreaterThan(0);
      expect(ok.plain.promoted).toBeGreaterThan(0);
      expect(ok.durable.rejoined).toBeGreaterThan(0);
      expect(ok.reads.rejoined).toBeGreaterThan(0);
      // acknowledged ⊆ present: every write that resolved with replicas: 1 survived the failover.
      const keys = [...acknowledged.keys()];
      expect(keys.length).toBeGreaterThan(100);
      const rows = await store.read(keys.map((key) => ({ key, fields: ['f.1'] })));
      const lost = keys.filter((key, i) => payloadOf(rows[i]?.[0]) !== acknowledged.get(key));
      expect(lost).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('answers UNAVAILABLE quickly while the whole cluster is down, and recovers by itself', async () => {
    const store = new RedisClusterOnlineStore({ nodes: [...cluster.nodes], keyPrefix: freshKeyPrefix() });
    try {
      await store.write({ field: 'f.1', ttlMillis: 0, keys: ['{down:1}'], rows: [packRow(1, 'before')] });
      for (const node of cluster.nodes) await cluster.stopNode(node.port);

      // The first requests may still see the connections close; after that the answer is immediate.
      await sleep(500);
      // UNAVAILABLE, not DEADLINE_EXCEEDED: the store gave up on its own, not by waiting out the 10 s deadline.
      for (let i = 0; i < 3; i++) {
        const read = store.read([{ key: '{down:1}', fields: ['f.1'] }], { deadlineMillis: Date.now() + 10_000 });
        await expect(read).rejects.toSatisfy((e) => isTesseraError(e) && e.code === 'UNAVAILABLE');
      }

      for (const node of cluster.nodes) await cluster.startNode(node.port);
      await cluster.waitForHealthy();
      // Same store, no new client: its reader and writer reconnect on their own.
      const recoveredBy = Date.now() + 15_000;
      for (;;) {
        try {
          await store.write({ field: 'f.1', ttlMillis: 0, keys: ['{down:1}'], rows: [packRow(2, 'after')] });
          const [[row] = []] = await store.read([{ key: '{down:1}', fields: ['f.1'] }]);
          expect(payloadOf(row)).toBe('after');
          break;
        } catch (error) {
          if (Date.now() > recoveredBy || !isTesseraError(error)) throw error;
          await sleep(200);
        }
      }
    } finally {
      await store.close();
    }
  });
});
