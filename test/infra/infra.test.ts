import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { parseClusterNodes, parseInfo, SLOT_COUNT, slotOwners } from './cluster-nodes.js';
import { ensureGrpcurl, GRPCURL } from './go-tools.js';
import { isPortFree } from './ports.js';
import { startRedisCluster } from './redis-cluster.js';
import type { RedisClusterHandle, RedisNodeAddress } from './redis-cluster.js';
import { RedisReplyError, sendRedisCommand, sendRedisTextCommand } from './redis-command.js';

/** With cluster-node-timeout 2000 ms a replica is promoted in about 3–5 s; 20 s leaves room on a busy CI. */
const FAILOVER_BOUND_MILLIS = 20_000;

async function readRole(address: RedisNodeAddress): Promise<string | undefined> {
  return parseInfo(await sendRedisTextCommand(address, ['INFO', 'replication'])).get('role');
}

/** Sets a key that the master on `address` owns (keys it does not own answer MOVED) and returns it. */
async function setKeyOwnedBy(address: RedisNodeAddress, value: string): Promise<string> {
  for (let i = 0; i < 1_000; i++) {
    const key = `infra-test:${i}`;
    try {
      await sendRedisCommand(address, ['SET', key, value]);
      return key;
    } catch (error) {
      if (!(error instanceof RedisReplyError && error.message.startsWith('MOVED'))) throw error;
    }
  }
  throw new Error(`No key owned by ${address.port} among 1000 tries`);
}

describe('shared Redis Cluster from the global setup', () => {
  it('has 3 masters and 3 replicas covering all 16384 slots', async () => {
    const { nodes } = inject('redisCluster');
    const [seed] = nodes;
    if (!seed) throw new Error('redisCluster has no nodes');

    const entries = parseClusterNodes(await sendRedisTextCommand(seed, ['CLUSTER', 'NODES']));
    const masters = entries.filter((entry) => entry.role === 'master');
    const replicas = entries.filter((entry) => entry.role === 'replica');

    expect(masters).toHaveLength(3);
    expect(replicas).toHaveLength(3);
    expect(entries.filter((entry) => entry.failing)).toEqual([]);
    expect(new Set(replicas.map((replica) => replica.masterId))).toEqual(new Set(masters.map((master) => master.id)));
    expect(slotOwners(entries).filter((owner) => owner < 0)).toHaveLength(0);
    expect(parseInfo(await sendRedisTextCommand(seed, ['CLUSTER', 'INFO'])).get('cluster_slots_ok')).toBe(
      String(SLOT_COUNT),
    );
  });
});

describe('dedicated Redis Cluster', () => {
  it('promotes a replica when a master dies, and takes the old master back as a replica', async () => {
    await using cluster = await startRedisCluster();
    const [victim] = await cluster.masters();
    if (!victim) throw new Error('no master');
    const [replica] = await cluster.replicasOf(victim.port);
    if (!replica) throw new Error(`master ${victim.port} has no replica`);
    const key = await setKeyOwnedBy(victim, 'before-failover');
    // WAIT makes the write reach the replica, so it must survive the failover.
    expect(await sendRedisCommand(victim, ['WAIT', 1, 5_000])).toBe(1);

    const stoppedAt = Date.now();
    await cluster.stopNode(victim.port);
    expect(await isPortFree(victim.port)).toBe(true);
    await expect
      .poll(() => readRole(replica).catch(() => undefined), { timeout: FAILOVER_BOUND_MILLIS, interval: 100 })
      .toBe('master');
    const failoverMillis = Date.now() - stoppedAt;
    expect(failoverMillis).toBeLessThan(FAILOVER_BOUND_MILLIS);

    await cluster.waitForHealthy();
    expect((await cluster.masters()).map((master) => master.port)).toContain(replica.port);
    expect(await sendRedisCommand(replica, ['GET', key])).toBe('before-failover');

    await cluster.startNode(victim.port);
    await cluster.waitForHealthy({ requireReplicas: true });
    expect(await readRole(victim)).toBe('slave');
    expect(await cluster.replicasOf(replica.port)).toEqual([victim]);
    expect((await cluster.masters()).map((master) => master.port)).not.toContain(victim.port);
  });

  it('frees its ports and removes its directory on stop', async () => {
    let cluster: RedisClusterHandle | undefined;
    try {
      cluster = await startRedisCluster({ nodeTimeoutMillis: 5_000 });
      const ports = cluster.nodes.map((node) => node.port);
      expect(new Set(ports).size).toBe(6);
      expect(existsSync(cluster.dir)).toBe(true);

      await cluster.stop();

      expect(existsSync(cluster.dir)).toBe(false);
      for (const port of ports) expect(await isPortFree(port)).toBe(true);
      await cluster.stop(); // a second stop is a no-op, as `await using` may call it again
    } finally {
      await cluster?.stop();
    }
  });
});

describe('Go tools', () => {
  it(
    `builds grpcurl ${GRPCURL.version} once and reuses the binary`,
    async () => {
      const path = await ensureGrpcurl();
      const { stdout, stderr } = await promisify(execFile)(path, ['-version']);
      expect(`${stdout}${stderr}`).toContain('grpcurl');
      const builtAt = statSync(path).mtimeMs;
      expect(await ensureGrpcurl()).toBe(path);
      expect(statSync(path).mtimeMs).toBe(builtAt);
    },
    10 * 60_000,
  );
});
