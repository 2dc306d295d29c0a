import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { parseClusterNodes, parseInfo, SLOT_COUNT, slotOwners } from '../src/cluster-nodes.js';
import { REPO_ROOT } from '../src/cli-process.js';
import { ensureGoTool, ensureGrpcurl, goBinDir, goToolPath, GO_BIN_DIR_ENV, GRPCURL } from '../src/go-tools.js';
import { findFreePorts, isPortFree, isPortReserved, releasePorts } from '../src/ports.js';
import { sleep } from '../src/processes.js';
import { startRedisCluster } from '../src/redis-cluster.js';
import type { RedisClusterHandle, RedisNodeAddress } from '../src/redis-cluster.js';
import { RedisReplyError, sendRedisCommand, sendRedisTextCommand } from '../src/redis-command.js';

/** With cluster-node-timeout 2000 ms a replica is promoted in about 3–5 s; 20 s leaves room on a busy CI. */
const FAILOVER_BOUND_MILLIS = 20_000;

/** Polls `read` every 100 ms until `done` holds or `timeoutMillis` passed, and returns the last value read. */
async function pollFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMillis: number): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= deadline) return value;
    await sleep(100);
  }
}

/** {@link isPortReserved} as a separate Node process (another vitest fork) sees it. */
async function isPortReservedInChild(port: number): Promise<boolean> {
  const portsModule = new URL('../src/ports.ts', import.meta.url).href;
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    `import { isPortReserved } from ${JSON.stringify(portsModule)}; console.log(await isPortReserved(${port}));`,
  ]);
  return stdout.trim() === 'true';
}

async function readMyId(address: RedisNodeAddress): Promise<string> {
  return sendRedisTextCommand(address, ['CLUSTER', 'MYID']);
}

/** Who the node on `address` is and whom it replicates, from the node itself. */
interface ReplicationView {
  readonly port: number;
  readonly id: string;
  readonly role: string | undefined;
  /** For a replica: its master's port and cluster id; undefined for a master. */
  readonly masterPort: number | undefined;
  readonly masterId: string | undefined;
  /** `master_replid` and `master_replid2`: which data set history the node carries. */
  readonly replIds: readonly string[];
}

async function describeReplication(address: RedisNodeAddress): Promise<ReplicationView> {
  const info = parseInfo(await sendRedisTextCommand(address, ['INFO', 'replication']));
  const myself = parseClusterNodes(await sendRedisTextCommand(address, ['CLUSTER', 'NODES'])).find(
    (entry) => entry.myself,
  );
  const masterPort = info.get('master_port');
  return {
    port: address.port,
    id: myself?.id ?? '?',
    role: info.get('role'),
    masterPort: masterPort === undefined ? undefined : Number(masterPort),
    masterId: myself?.masterId,
    replIds: [info.get('master_replid') ?? '?', info.get('master_replid2') ?? '?'],
  };
}

/** Every node of the cluster as `port=id-prefix role[>master port]`, for failure messages. */
async function describeNodes(cluster: RedisClusterHandle): Promise<string> {
  const views = await Promise.all(
    cluster.nodes.map((node) =>
      describeReplication(node).then(
        (view) =>
          `${view.port}=${view.id.slice(0, 8)} ${view.role ?? '?'}${view.masterPort ? `>${view.masterPort}` : ''}`,
        (error: unknown) => `${node.port}: ${String(error)}`,
      ),
    ),
  );
  return views.join(', ');
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
    const victimId = await readMyId(victim);
    const replicaId = await readMyId(replica);
    // The node on replica.port is the one replicating from the victim, by id and by replication link.
    const before = await describeReplication(replica);
    expect(before, `replica ${replica.port} (${replicaId}) before the failover`).toMatchObject({
      role: 'slave',
      masterPort: victim.port,
      masterId: victimId,
    });
    const key = await setKeyOwnedBy(victim, 'before-failover');
    // WAIT makes the write reach the replica, so it must survive the failover.
    expect(await sendRedisCommand(victim, ['WAIT', 1, 5_000]), `WAIT on ${victim.port} (${victimId})`).toBe(1);

    const stoppedAt = Date.now();
    await cluster.stopNode(victim.port);
    expect(await isPortFree(victim.port), `port ${victim.port} after stopping ${victimId}`).toBe(true);
    // The dead master's port stays reserved: a replica keeps reconnecting to it until it is promoted, and
    // would full-resync from any other fork's redis-server started there.
    expect(await isPortReservedInChild(victim.port), `stopped node ${victim.port} seen from another process`).toBe(
      true,
    );
    const afterKill = await pollFor(
      () => describeReplication(replica).catch((error: unknown) => String(error)),
      (view) => typeof view !== 'string' && view.role === 'master',
      FAILOVER_BOUND_MILLIS,
    );
    expect(afterKill, `replica ${replica.port} (${replicaId}) once its master ${victim.port} died`).toMatchObject({
      id: replicaId,
      role: 'master',
    });
    const failoverMillis = Date.now() - stoppedAt;
    expect(failoverMillis).toBeLessThan(FAILOVER_BOUND_MILLIS);

    await cluster.waitForHealthy();
    const promoted = await describeReplication(replica);
    expect(promoted, `node on ${replica.port} after the failover`).toMatchObject({ id: replicaId, role: 'master' });
    const masters = await cluster.masters();
    expect(
      masters.map((master) => master.port),
      `masters after the failover: ${await describeNodes(cluster)}`,
    ).toContain(replica.port);
    expect(
      await sendRedisCommand(replica, ['GET', key]),
      `GET ${key} on promoted ${replica.port} (${replicaId}), keys there: ${String(await sendRedisCommand(replica, ['DBSIZE']))}, ` +
        `replication ids ${promoted.replIds.join('/')}`,
    ).toBe('before-failover');

    await cluster.startNode(victim.port);
    await cluster.waitForHealthy({ requireReplicas: true });
    const rejoined = await describeReplication(victim);
    expect(rejoined, `restarted node on ${victim.port}`).toMatchObject({
      id: victimId,
      role: 'slave',
      masterPort: replica.port,
      masterId: replicaId,
    });
    expect(
      await cluster.replicasOf(replica.port),
      `replicas of ${replica.port}: ${await describeNodes(cluster)}`,
    ).toEqual([victim]);
    expect(
      (await cluster.masters()).map((master) => master.port),
      `masters after the restart: ${await describeNodes(cluster)}`,
    ).not.toContain(victim.port);
  });

  it('keeps the ports it hands out reserved against other processes until released', async () => {
    const [port] = await findFreePorts(1, { offsets: [0, 10_000] });
    if (port === undefined) throw new Error('findFreePorts returned no port');
    try {
      expect(await isPortReservedInChild(port), `port ${port} seen from another process`).toBe(true);
      expect(await isPortReservedInChild(port + 10_000), `bus port ${port + 10_000} seen from another process`).toBe(
        true,
      );
    } finally {
      releasePorts([port], [0, 10_000]);
    }
    await expect.poll(() => isPortReservedInChild(port), { message: `port ${port} after release` }).toBe(false);
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
      for (const port of ports) {
        expect(await isPortFree(port), `port ${port} after stop`).toBe(true);
        expect(await isPortReserved(port), `reservation of port ${port} after stop`).toBe(false);
      }
      await cluster.stop(); // a second stop is a no-op, as `await using` may call it again
    } finally {
      await cluster?.stop();
    }
  });
});

/** Runs `body` with the given environment variables set (undefined: unset), then restores them. */
function withEnv<T>(vars: Record<string, string | undefined>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>): void => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(vars);
  try {
    return body();
  } finally {
    apply(saved);
  }
}

describe('Go tools', () => {
  it('caches built tools outside the checkout: TESSERA_GO_BIN_DIR, else $XDG_CACHE_HOME/tessera, else ~/.cache/tessera', () => {
    expect(withEnv({ [GO_BIN_DIR_ENV]: '/tmp/tools', XDG_CACHE_HOME: '/tmp/xdg' }, goBinDir)).toBe('/tmp/tools');
    expect(withEnv({ [GO_BIN_DIR_ENV]: undefined, XDG_CACHE_HOME: '/tmp/xdg' }, goBinDir)).toBe(
      '/tmp/xdg/tessera/go-bin',
    );
    // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
    for (const xdg of [undefined, 'relative/cache']) {
      expect(withEnv({ [GO_BIN_DIR_ENV]: undefined, XDG_CACHE_HOME: xdg }, goBinDir)).toBe(
        join(homedir(), '.cache', 'tessera', 'go-bin'),
      );
    }
  });

  it('keys each binary by its version, so a changed pin builds anew beside the old one', () => {
    expect(goToolPath('/c', 'ghz', 'v0.120.0')).toBe('/c/ghz@v0.120.0/ghz');
    expect(goToolPath('/c', 'ghz', 'v0.121.0')).not.toBe(goToolPath('/c', 'ghz', 'v0.120.0'));
  });

  it(
    `builds grpcurl ${GRPCURL.version} once, outside the checkout, and reuses the binary`,
    async () => {
      const path = await ensureGrpcurl();
      expect(relative(REPO_ROOT, path).startsWith('..')).toBe(true);
      expect(path).toContain(`grpcurl@${GRPCURL.version}`);
      const { stdout, stderr } = await promisify(execFile)(path, ['-version']);
      expect(`${stdout}${stderr}`).toContain('grpcurl');
      const builtAt = statSync(path).mtimeMs;
      expect(await ensureGrpcurl()).toBe(path);
      expect(statSync(path).mtimeMs).toBe(builtAt);
    },
    10 * 60_000,
  );

  it(
    'lets two builds of the same tool run at once: both get the whole binary, no build folder is left',
    async () => {
      // After the test above, Go's build cache makes these builds a link step each.
      const dir = mkdtempSync(join(tmpdir(), 'tessera-go-bin-'));
      try {
        const build = (): Promise<string> =>
          withEnv({ [GO_BIN_DIR_ENV]: dir }, () => ensureGoTool(GRPCURL.modulePath, GRPCURL.version, GRPCURL.binName));
        const [first, second] = await Promise.all([build(), build()]);
        expect(first).toBe(goToolPath(dir, GRPCURL.binName, GRPCURL.version));
        expect(second).toBe(first);
        const { stdout, stderr } = await promisify(execFile)(first, ['-version']);
        expect(`${stdout}${stderr}`).toContain('grpcurl');
        expect(readdirSync(dir)).toEqual([`grpcurl@${GRPCURL.version}`]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    10 * 60_000,
  );
});
