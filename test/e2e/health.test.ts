import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toColumn } from '@tessera/client';
import { createServer, type Server as TcpServer } from 'node:net';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ServerHealth } from '@tessera/feature-server';
import { ChdbExecutor, ClickHouseOfflineStore, HttpExecutor, qualifiedName, tableName } from '@tessera/offline';
import { definitionsFromYaml, pollUntil, type RedisClusterHandle, startRedisCluster } from '@tessera/testkit';
import { healthProbe, type HealthAnswer, type HealthProbe } from '../support/health-client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { collectingLogger } from '../support/logs.js';

// The health service against real engines: an embedded server (LMDB + chDB) whose write-behind
// meets a view without a table, and a cluster-mode server whose private Redis Cluster is stopped.

const REPO = definitionsFromYaml({
  'repo.yaml': `
project: health
entities: [{ name: user, join_keys: [{ name: user_id, type: int64 }] }]
feature_views:
  - { name: clicks, entities: [user], features: [{ name: n, type: int64 }] }
  - { name: scores, entities: [user], features: [{ name: s, type: double }] }
`,
});

const API = ['tessera.v1.FeatureStore', 'tessera.v1.Registry', 'tessera.v1.Operations'];

async function statuses(probe: HealthProbe, names: readonly string[]): Promise<Record<string, HealthAnswer>> {
  const out: Record<string, HealthAnswer> = {};
  for (const name of names) out[name] = await probe.check(name);
  return out;
}

async function until(probe: HealthProbe, name: string, want: HealthAnswer, timeoutMillis = 30_000): Promise<void> {
  const reached = await pollUntil(async () => (await probe.check(name)) === want, timeoutMillis, 50);
  expect(reached, `${name || '(overall)'} never became ${want}`).toBe(true);
}

describe('health on the embedded engines', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-health-'));
  let t: TestServer;
  let probe: HealthProbe;
  let executor: ChdbExecutor;

  beforeAll(async () => {
    t = await startTestServer(
      // A failing view waits 2 s before its second (last) attempt; the drain alert fires after 300 ms.
      { kind: 'embedded', dataDir, writeBehind: { attempts: 2, backoffMillis: 2_000 } },
      { healthCheckIntervalMillis: 100, maxDrainLagMillis: 300 },
    );
    await t.client.apply(REPO);
    probe = healthProbe(t.server.address);
    // The server's own chDB engine (one per process): a second handle on the same directory.
    executor = ChdbExecutor.open({ path: join(dataDir, 'offline') });
  });
  afterAll(async () => {
    probe.close();
    await executor.close();
    await t[Symbol.asyncDispose]();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const write = (view: 'clicks' | 'scores', first: number, count: number) => {
    const ids = Array.from({ length: count }, (_, i) => BigInt(first + i));
    return t.client.write({
      featureView: view,
      columns: {
        user_id: toColumn('int64', ids),
        ...(view === 'clicks'
          ? { n: toColumn('int64', ids) }
          : {
              s: toColumn(
                'double',
                ids.map((i) => Number(i) / 2),
              ),
            }),
      },
      eventTimestamps: toColumn(
        'timestamp',
        ids.map((i) => 1_700_000_000_000 + Number(i)),
      ),
    });
  };
  const offlineRows = async (view: string): Promise<number> => {
    const [row] = await executor.queryJson<{ n: string }>(
      `SELECT toString(count()) AS n FROM ${qualifiedName('tessera', `fv_${view}__v1`)}`,
    );
    return Number(row?.n ?? 0);
  };

  it('reports every component, liveness and readiness as SERVING on a healthy server', async () => {
    expect(
      await statuses(probe, [
        '',
        'liveness',
        'readiness',
        'tessera.online',
        'tessera.offline',
        'tessera.writebehind',
        'tessera.writebehind.drain',
        ...API,
      ]),
    ).toEqual(
      Object.fromEntries(
        [
          '',
          'liveness',
          'readiness',
          'tessera.online',
          'tessera.offline',
          'tessera.writebehind',
          'tessera.writebehind.drain',
          ...API,
        ].map((n) => [n, 'SERVING']),
      ),
    );
    expect(await probe.check('no.such.service')).toBe('error 5');
  });

  it('shows a view whose table is gone as drain lag, then a dead letter, while other views flow and readiness holds; replays it once', async () => {
    await write('clicks', 0, 3);
    await write('scores', 0, 3);
    expect(
      await pollUntil(async () => (await offlineRows('clicks')) === 3 && (await offlineRows('scores')) === 3, 20_000),
    ).toBe(true);
    const view = await t.server.registry.findViewVersion('clicks', 1);
    await executor.command(`DROP TABLE ${qualifiedName('tessera', tableName(view!))}`);

    await write('clicks', 100, 4);
    await write('scores', 100, 4);
    expect(await pollUntil(async () => (await offlineRows('scores')) === 7, 20_000)).toBe(true);
    // While clicks waits out its backoff, its rows age: the drain alert fires before any dead letter.
    await until(probe, 'tessera.writebehind.drain', 'NOT_SERVING');
    expect(await t.client.writeBehindStats()).toMatchObject({ pendingRows: 4n, deadLetters: 0n });
    expect(await probe.check('readiness')).toBe('SERVING');
    expect(await pollUntil(async () => (await t.client.listDeadLetters()).length > 0, 20_000)).toBe(true);
    const [letter] = await t.client.listDeadLetters();
    expect(letter).toMatchObject({ featureView: 'clicks', version: 1, rowCount: 4n, attempts: 2 });
    expect(letter?.error).toMatch(/UNKNOWN_TABLE|does not exist/);

    // Dead letters are an alert, not a reason to stop serving: writes are still acknowledged.
    await until(probe, 'tessera.writebehind.drain', 'NOT_SERVING');
    expect(await statuses(probe, ['readiness', 'tessera.writebehind'])).toEqual({
      readiness: 'SERVING',
      'tessera.writebehind': 'SERVING',
    });

    // Re-created, the table takes the replayed rows exactly once.
    const offline = await ClickHouseOfflineStore.open({ executor, database: 'tessera' });
    await offline.ensureTables([view!]);
    await t.client.replayDeadLetter(letter!.id);
    await expect(t.client.replayDeadLetter(letter!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await offlineRows('clicks')).toBe(4);
    await until(probe, 'tessera.writebehind.drain', 'SERVING');
  });
});

describe('health of an offline store that refuses or does not answer', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-health-offline-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /** A TCP server that accepts connections and never answers (a ClickHouse stuck on a query). */
  async function silentServer(): Promise<{ port: number; server: TcpServer }> {
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as { port: number }).port, server };
  }

  it.each(['refuses connections', 'does not answer'])(
    'turns tessera.offline NOT_SERVING when the offline store %s, naming why, while readiness stays SERVING',
    async (fault) => {
      await using t = await startTestServer({ kind: 'embedded', dataDir: join(dataDir, fault.replace(/ /g, '-')) });
      const silent = await silentServer();
      // A closed port: listened on, then closed.
      const refusedPort = await silentServer().then(
        ({ port, server }) => new Promise<number>((resolve) => server.close(() => resolve(port))),
      );
      const port = fault === 'refuses connections' ? refusedPort : silent.port;
      const executor = new HttpExecutor({ url: `http://127.0.0.1:${port}`, requestTimeoutMillis: 30_000 });
      const { logger, lines } = collectingLogger();
      const health = new ServerHealth(
        {
          online: () => t.server.store.ping(),
          offline: async () => {
            await executor.queryJson('SELECT 1');
          },
          writeBehind: () => t.server.writeBehind.stats(),
        },
        { intervalMillis: 100, timeoutMillis: 500, logger },
      );
      const grpc = new Server();
      health.addToServer(grpc);
      const bound = await new Promise<number>((resolve, reject) =>
        grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
      );
      const probe = healthProbe(`127.0.0.1:${bound}`);
      try {
        await health.start();
        expect(await statuses(probe, ['tessera.offline', 'readiness', 'liveness', 'tessera.online'])).toEqual({
          'tessera.offline': 'NOT_SERVING',
          readiness: 'SERVING',
          liveness: 'SERVING',
          'tessera.online': 'SERVING',
        });
        const line = lines.find((l) => l.level === 'warn' && l.message.includes('tessera.offline NOT_SERVING'));
        expect(line?.fields['reason']).toMatch(
          fault === 'does not answer' ? /did not answer within 500 ms/ : /ECONNREFUSED|refused|unreachable/i,
        );
        health.stop();
        expect(await probe.check('readiness')).toBe('NOT_SERVING');
        expect(await probe.check('liveness')).toBe('SERVING');
      } finally {
        probe.close();
        health.stop();
        grpc.forceShutdown();
        await executor.close();
        silent.server.close();
      }
    },
  );
});

describe('health of a cluster-mode server when its Redis Cluster stops', () => {
  let cluster: RedisClusterHandle;
  let t: TestServer;
  let probe: HealthProbe;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    await cluster.waitForHealthy();
    t = await startTestServer(
      { kind: 'redis-cluster', nodes: cluster.nodes, keyPrefix: 'health:' },
      { healthCheckIntervalMillis: 100 },
    );
    probe = healthProbe(t.server.address);
  }, 60_000);
  afterAll(async () => {
    probe?.close();
    await t?.[Symbol.asyncDispose]();
    await cluster?.stop();
  });

  it('turns readiness NOT_SERVING while the cluster is down, keeps liveness SERVING, and recovers', async () => {
    expect(await statuses(probe, ['', 'readiness', 'liveness', 'tessera.online', 'tessera.writebehind'])).toEqual({
      '': 'SERVING',
      readiness: 'SERVING',
      liveness: 'SERVING',
      'tessera.online': 'SERVING',
      'tessera.writebehind': 'SERVING',
    });
    // No offline store configured here: the name is unknown rather than failing.
    expect(await probe.check('tessera.offline')).toBe('error 5');

    for (const node of cluster.nodes) await cluster.stopNode(node.port);
    // Each component's check notices on its own: readiness may fall on write-behind's first.
    await until(probe, 'readiness', 'NOT_SERVING');
    await until(probe, 'tessera.online', 'NOT_SERVING');
    expect(await statuses(probe, ['', 'liveness', 'tessera.online', 'tessera.v1.FeatureStore'])).toEqual({
      '': 'NOT_SERVING',
      liveness: 'SERVING',
      'tessera.online': 'NOT_SERVING',
      'tessera.v1.FeatureStore': 'NOT_SERVING',
    });

    for (const node of cluster.nodes) await cluster.startNode(node.port);
    await cluster.waitForHealthy({ timeoutMillis: 60_000 });
    await until(probe, 'readiness', 'SERVING', 60_000);
    expect(await probe.check('tessera.online')).toBe('SERVING');
  }, 150_000);
});
