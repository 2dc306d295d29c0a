import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TesseraClient, fromColumn, toColumn } from '@tessera/client';
import { HistoricalFormat, type GetHistoricalResponse } from '@tessera/proto';
import { openBullmqDeadLetters } from '@tessera/writebehind';
import {
  type CliProcess,
  type OfflineServerCli,
  definitionsFromYaml,
  pollUntil,
  startOfflineServerCli,
} from '@tessera/testkit';
import {
  type ClusterDeployment,
  type ServeProcess,
  createClusterKeyCli,
  nodeList,
  startServeOnCluster,
  startWriterOnCluster,
} from '../support/cluster-processes.js';
import { TrackedWriteLoad } from '../support/round-robin-load.js';
import {
  EVENTS_YAML,
  ROWS_PER_WRITE,
  acknowledgedOnline,
  assertExactlyOnce,
  offlineRowsPerUserIn,
  runWriteLoad,
  writeNumber,
  type LoadResult,
} from '../support/write-load.js';

// Issue 15: feature servers hold no state. Three `tessera serve` and two `tessera writer` processes
// on one Redis Cluster (one key prefix for this file) and one offline store: a `tessera
// offline-server` owns the chDB directory and serves it over gRPC to all five (chDB allows one
// process per directory). Any server answers any read, an apply through one is in force on all,
// and kill -9 of a server or of a writer loses and duplicates nothing.

const { nodes } = inject('redisCluster');
const keyPrefix = `sc${randomBytes(4).toString('hex')}:`;
const dir = mkdtempSync(join(tmpdir(), 'tessera-stateless-cluster-'));
const offlineDir = join(dir, 'offline-server');

/** The bound: an apply through one server is in force on every server within 2 s. */
const APPLY_IN_FORCE_MILLIS = 2_000;

const PROFILE_V1 = `
  - name: profile
    entities: [user]
    features: [{ name: score, type: int64 }]
`;
const REPO_V1 = definitionsFromYaml({ 'repo.yaml': EVENTS_YAML + PROFILE_V1 });
// A breaking change (profile@2) that every server learns only from the shared registry log (a server
// that missed it still resolves `profile:score`, to version 1), and a new view.
const REPO_V2 = definitionsFromYaml({
  'repo.yaml':
    EVENTS_YAML +
    PROFILE_V1.replace('type: int64', 'type: double') +
    `
  - name: clicks
    entities: [user]
    features: [{ name: n, type: int64 }]
`,
});

const servers: ServeProcess[] = [];
const writers: CliProcess[] = [];
const clients: TesseraClient[] = [];
let offline: OfflineServerCli | undefined;
/** Every numbered Write of this file, whichever server took it: checked offline at the end. */
const load: LoadResult = { sent: 0, acknowledged: [], failed: 0, errors: [] };

/** Writes number `w` through `client`, counted in the file's load. */
async function writeThrough(client: TesseraClient): Promise<number> {
  const w = load.sent++;
  await writeNumber(client, w);
  load.acknowledged.push(w);
  return w;
}

function usersOf(w: number): bigint[] {
  return Array.from({ length: ROWS_PER_WRITE }, (_, i) => BigInt(w * ROWS_PER_WRITE + i));
}

/** `events:amount` of `users` in a training set (GetHistorical) a day after every event of this file. */
async function trainingAmounts(client: TesseraClient, users: readonly bigint[]): Promise<unknown[]> {
  const chunks: GetHistoricalResponse[] = [];
  const at = BigInt(Date.UTC(2026, 0, 2));
  for await (const chunk of client.getHistorical({
    entities: {
      $case: 'rows',
      value: { keys: { user_id: toColumn('int64', users) }, eventTimestamps: users.map(() => at), passthrough: {} },
    },
    features: ['events:amount'],
    featureService: '',
    format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
    chunkRows: 0,
  }))
    chunks.push(chunk);
  return chunks.flatMap((c) => fromColumn(c.columns[c.names.indexOf('events__amount')]!));
}

beforeAll(async () => {
  // The deployment's admin key, made as an operator would (in the Redis Cluster, no server needed).
  const offlineApiKey = await createClusterKeyCli(nodes, keyPrefix, 'offline-store', 'admin');
  offline = await startOfflineServerCli(offlineDir, [
    '--redis-cluster',
    nodeList(nodes),
    '--key-prefix',
    keyPrefix,
    '--auth',
  ]);
  const deployment: ClusterDeployment = { nodes, keyPrefix, offlineServer: offline.address, offlineApiKey };
  // Each one is tracked as soon as it runs, so afterAll stops it even when another fails to start.
  await Promise.all([1, 2, 3].map(async () => servers.push(await startServeOnCluster(deployment))));
  await Promise.all(
    ['writer-a', 'writer-b'].map(async (name) =>
      writers.push(
        await startWriterOnCluster(deployment, join(dir, name), ['--lock-ms', '1500', '--concurrency', '2']),
      ),
    ),
  );
  await servers[0]!.client.apply(REPO_V1, { author: 'stateless-cluster' });
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.close();
  for (const server of servers) {
    server.client.close();
    await server.process.stop('SIGKILL');
  }
  for (const writer of writers) await writer.stop('SIGKILL');
  await offline?.process.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('three feature servers and two writers on one Redis Cluster', () => {
  it('answers any read on any server, and reads back through the others a write acknowledged by one', async () => {
    const written = [];
    for (const server of servers) written.push(await writeThrough(server.client));
    // Read right after each acknowledgement, with no wait: the online write is done when it is acknowledged.
    for (const w of written) {
      for (const server of servers) {
        const result = await server.client.getOnlineFeatures({
          features: ['events:amount'],
          entities: { user_id: usersOf(w) },
        });
        expect(result.refs, `write ${w} through ${server.address}`).toEqual(['events@1:amount']);
        expect(result.statuses[0]).toEqual(usersOf(w).map(() => 'PRESENT'));
        expect(result.values[0]).toEqual(usersOf(w).map(Number));
      }
    }
    // One batch mixing the entities written through all three, and the registry, from every server.
    const everyUser = written.flatMap(usersOf);
    const answers = await Promise.all(
      servers.map(async (server) => ({
        online: await server.client.getOnlineFeatures({
          features: ['events:amount'],
          entities: { user_id: everyUser },
        }),
        views: (await server.client.list()).featureViews.map((v) => `${v.name}@${v.version}`).sort(),
      })),
    );
    for (const answer of answers) {
      expect(answer.online.values[0]).toEqual(everyUser.map(Number));
      expect(answer.views).toEqual(['events@1', 'profile@1']);
    }
  });

  it(`puts an apply through one server in force on all within ${APPLY_IN_FORCE_MILLIS} ms`, async () => {
    const [first, applier, third] = servers as [ServeProcess, ServeProcess, ServeProcess];
    const resolvedScore = async (server: ServeProcess): Promise<string | undefined> =>
      (await server.client.getOnlineFeatures({ features: ['profile:score'], entities: { user_id: [1n] } })).refs[0];
    for (const server of servers) expect(await resolvedScore(server)).toBe('profile@1:score');

    const sentAt = performance.now();
    const result = await applier.client.apply(REPO_V2, { author: 'stateless-cluster' });
    const appliedAt = performance.now();
    expect(result.changes.find((c) => c.name === 'profile')).toMatchObject({ fromVersion: 1, toVersion: 2 });
    expect(await resolvedScore(applier)).toBe('profile@2:score');

    const inForceAfter = await Promise.all(
      [first, third].map(async (server) => {
        const inForce = await pollUntil(async () => (await resolvedScore(server)) === 'profile@2:score', 10_000, 20);
        const millis = performance.now() - appliedAt;
        expect(inForce, `${server.address} still resolves profile:score to version 1 after 10 s`).toBe(true);
        // The new view as well (a server that has not heard of it looks it up on the miss).
        const clicks = await server.client.getOnlineFeatures({ features: ['clicks:n'], entities: { user_id: [1n] } });
        expect(clicks.refs).toEqual(['clicks@1:n']);
        return millis;
      }),
    );
    console.log(
      `apply in force on the other servers after ${inForceAfter.map((m) => m.toFixed(0)).join(' and ')} ms ` +
        `(apply call ${(appliedAt - sentAt).toFixed(0)} ms)`,
    );
    for (const millis of inForceAfter) expect(millis).toBeLessThan(APPLY_IN_FORCE_MILLIS);
  });

  it('fails only the killed server’s calls in flight for a round-robin client, and loses no acknowledged write', async () => {
    const client = new TesseraClient({
      address: `ipv4:${servers.map((s) => s.address).join(',')}`,
      loadBalancing: 'round_robin',
      timeoutMillis: 20_000,
    });
    clients.push(client);
    const victim = servers[2]!;
    const survivors = new Set(servers.slice(0, 2).map((s) => s.address));
    const tracked = new TrackedWriteLoad(client, load);

    // Round robin: the calls spread over all three servers.
    await tracked.run({
      concurrency: 6,
      maxWrites: 300,
      maxMillis: 30_000,
      until: () => tracked.writes.length >= 60 && tracked.successesByPeer().size === servers.length,
    });
    expect(tracked.describeFailures()).toEqual([]);
    expect([...tracked.successesByPeer().keys()].sort()).toEqual(servers.map((s) => s.address).sort());

    // Writes started and acknowledged when the killed server had exited (set below, read by the load).
    const exit: { writes?: number; acknowledged?: number } = {};
    const loading = tracked.run({
      concurrency: 6,
      maxWrites: 400,
      maxMillis: 40_000,
      until: () => exit.acknowledged !== undefined && load.acknowledged.length >= exit.acknowledged + 60,
    });
    const before = load.acknowledged.length;
    await pollUntil(() => Promise.resolve(load.acknowledged.length >= before + 30), 30_000, 2);
    await victim.process.stop('SIGKILL');
    const afterExit = { writes: tracked.writes.length, acknowledged: load.acknowledged.length };
    Object.assign(exit, afterExit);
    await loading;

    const failures = tracked.failures();
    const inFlight = tracked.inFlightAtFirstFailure() ?? [];
    const onVictim = new Set(inFlight.filter((f) => f.peer === victim.address).map((f) => f.write));
    console.log(
      `server kill: ${failures.length} calls failed (${failures.map((f) => GrpcStatus[f.code!]).join(', ')}); ` +
        `${onVictim.size} of ${inFlight.length} calls in flight were on the killed server when its connection dropped; ` +
        `after it exited ${JSON.stringify(Object.fromEntries(tracked.successesByPeer(afterExit.writes)))}`,
    );
    expect(load.failed).toBe(failures.length);
    for (const failure of failures) {
      expect([GrpcStatus.UNAVAILABLE, GrpcStatus.CANCELLED], `write ${failure.w}`).toContain(failure.code);
      expect(failure.peer, `write ${failure.w}`).toBe(victim.address);
      // Only calls already in flight on the killed server's connection when it dropped fail.
      expect(onVictim.has(failure), `write ${failure.w} was not in flight on ${victim.address}`).toBe(true);
    }
    expect(failures.length).toBeLessThanOrEqual(onVictim.size);
    // After the kill, calls keep succeeding, on the other two servers only.
    const afterwards = tracked.successesByPeer(afterExit.writes);
    expect([...afterwards.keys()].sort()).toEqual([...survivors].sort());
    expect(load.acknowledged.length).toBeGreaterThanOrEqual(afterExit.acknowledged + 60);
    // Every acknowledged write is online (offline: checked once the backlog drains, below).
    expect(await acknowledgedOnline(servers[0]!.client, load)).toBe(load.acknowledged.length);
  }, 90_000);

  it('loses and duplicates nothing when a writer is killed mid-insert and the other takes over', async () => {
    const client = clients[0] ?? servers[0]!.client;
    const queue = openBullmqDeadLetters(nodes, keyPrefix);
    try {
      const [killed, survivor] = writers as [CliProcess, CliProcess];
      const failedBefore = load.failed;
      const killing = (async () => {
        await pollUntil(async () => (await queue.stats()).pendingJobs > 0, 20_000, 5);
        await killed.stop('SIGKILL');
      })();
      await runWriteLoad(() => client, load, { concurrency: 4, maxWrites: 150, maxMillis: 30_000 });
      await killing;
      const afterKill = await queue.stats();
      await runWriteLoad(() => client, load, { concurrency: 4, maxWrites: 60, maxMillis: 30_000 });
      expect(load.errors?.slice(failedBefore), 'writes failed while a writer was killed').toEqual([]);
      expect(load.failed).toBe(failedBefore);

      const drained = await pollUntil(async () => (await queue.stats()).pendingJobs === 0, 60_000, 100);
      expect(drained, `queue not drained: ${JSON.stringify(await queue.stats())}`).toBe(true);
      expect((await queue.stats()).deadLetters).toBe(0);
      const presentOnline = await acknowledgedOnline(servers[0]!.client, load);
      await survivor.stop('SIGTERM');
      console.log(`writer kill: ${afterKill.pendingJobs} jobs pending when the first writer died`);

      // The servers read the store the writers inserted into: a training set through each survivor.
      const sample = [...load.acknowledged.slice(0, 5), ...load.acknowledged.slice(-5)].flatMap(usersOf);
      for (const server of servers.slice(0, 2)) {
        expect(await trainingAmounts(server.client, sample), `training set through ${server.address}`).toEqual(
          sample.map(Number),
        );
      }

      // Counted in the offline server's own chDB directory, once it has stopped.
      await offline!.process.stop('SIGTERM');
      const rows = await offlineRowsPerUserIn(join(offlineDir, 'offline'));
      assertExactlyOnce('stateless cluster', load, rows, presentOnline);
    } finally {
      await queue.close();
    }
  }, 120_000);
});
