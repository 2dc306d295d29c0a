/**
 * Ingest of event views (docs/design/window-aggregations.md §1.2, §1.3, §4.1): each row of a live
 * write lands in the main offline table (eligible) or in `__excluded` (late, future) as decided at
 * acceptance; history writes are always eligible; every row carries its event fingerprint, so a
 * replayed Write or a write-behind job inserted twice adds nothing under FINAL; target ONLINE on an
 * event view with aggregations is refused. Embedded (LMDB outbox into chDB, in-process) and cluster
 * mode (a `tessera serve` and a `tessera writer` process on the suite's Redis Cluster, an offline
 * server over chDB in this process) run the same scenario. Real servers, real chDB.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { fromColumn, toColumn, type TesseraClient, type TesseraClientError } from '@tessera/client';
import {
  EXCLUSION_LATE,
  EXCLUSION_NONE,
  batchFingerprints,
  silentLogger,
  type OfflineBatch,
  type RegisteredView,
} from '@tessera/core';
import { ChdbExecutor, ClickHouseOfflineStore } from '@tessera/offline';
import { fromWireView } from '@tessera/offline-remote';
import { Durability, WriteTarget, type GetHistoricalResponse, type WriteRequest } from '@tessera/proto';
import { definitionsFromYaml, pollUntil, startServeProcess, startWriterCli, type CliProcess } from '@tessera/testkit';
import { startOfflineServer, type OfflineServer } from '@tessera/feature-server';
import { decodeOfflineJob, encodeOfflineJob } from '@tessera/writebehind';
import { freshBackend, startTestServer, type TestServer } from '../support/server.js';
import { sample, scrape } from '../support/scrape.js';

const { nodes } = inject('redisCluster');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const REPO = definitionsFromYaml({
  'repo.yaml': `
project: events
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: clicks
    kind: events
    entities: [customer]
    allowed_lateness: 1h
    future_tolerance: 60s
    features:
      - { name: page, type: string }
      - { name: n, type: int64 }
    aggregations:
      - { name: clicks_1d, function: count, window: 1d }
  - name: plain
    entities: [customer]
    features:
      - { name: score, type: double }
`,
});

const dirs: string[] = [];
const processes: CliProcess[] = [];
const closers: (() => Promise<void>)[] = [];
// After each test: chDB holds one data directory per process, so each test's stores close before the next opens its own.
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  for (const p of processes.splice(0).reverse()) await p.stop('SIGTERM');
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${name}-`));
  dirs.push(dir);
  return dir;
}

/** A write of `clicks` rows (id, ts, page, n). */
function clicks(rows: readonly (readonly [number, number, string, number])[], extra: Partial<WriteRequest> = {}) {
  return {
    featureView: 'clicks',
    columns: {
      customer_id: toColumn(
        'int64',
        rows.map((r) => BigInt(r[0])),
      ),
      page: toColumn(
        'string',
        rows.map((r) => r[2]),
      ),
      n: toColumn(
        'int64',
        rows.map((r) => BigInt(r[3])),
      ),
    },
    eventTimestamps: toColumn(
      'timestamp',
      rows.map((r) => r[1]),
    ),
    ...extra,
  };
}

interface Landed {
  /** `id:page` of the main table under FINAL, sorted. */
  readonly main: string[];
  /** `id:page:reason` of `__excluded` under FINAL, sorted. */
  readonly excluded: string[];
  /** Rows of both tables before merging (copies included). */
  readonly copies: number;
}

/** True once every expected row and copy is there. */
function complete(got: Landed, expected: Landed): boolean {
  return (
    got.copies >= expected.copies &&
    JSON.stringify([got.main, got.excluded]) === JSON.stringify([expected.main, expected.excluded])
  );
}

/** What the tables hold; copies first, so rows inserted while it reads can only be missing from that count. */
async function landed(executor: ChdbExecutor, base: number): Promise<Landed> {
  const [copies] = await executor.queryJson<{ n: string }>(
    `SELECT toString((SELECT count() FROM tessera.fv_clicks__v1 WHERE customer_id >= ${base}) + ` +
      `(SELECT count() FROM tessera.fv_clicks__v1__excluded WHERE customer_id >= ${base})) AS n`,
  );
  const main = await executor.queryJson<{ k: string }>(
    `SELECT concat(toString(customer_id), ':', page) AS k FROM tessera.fv_clicks__v1 FINAL WHERE customer_id >= ${base} ORDER BY k`,
  );
  const excluded = await executor.queryJson<{ k: string }>(
    `SELECT concat(toString(customer_id), ':', page, ':', toString(reason)) AS k FROM tessera.fv_clicks__v1__excluded FINAL WHERE customer_id >= ${base} ORDER BY k`,
  );
  return { main: main.map((r) => r.k), excluded: excluded.map((r) => r.k), copies: Number(copies?.n) };
}

async function pageAt(client: TesseraClient, id: number, at: number): Promise<unknown> {
  const chunks: GetHistoricalResponse[] = [];
  for await (const chunk of client.getHistorical({
    entities: {
      $case: 'rows',
      value: { keys: { customer_id: toColumn('int64', [BigInt(id)]) }, eventTimestamps: [BigInt(at)], passthrough: {} },
    },
    features: ['clicks:page'],
    featureService: '',
    chunkRows: 0,
    format: 0,
  })) {
    chunks.push(chunk);
  }
  return chunks.flatMap((c) => {
    const i = c.names.indexOf('clicks__page');
    return i < 0 ? [] : fromColumn(c.columns[i]!);
  })[0];
}

/**
 * The scenario, on a server reached by `client` whose offline rows `executor` reads once `settled`
 * says write-behind has delivered what it should.
 */
async function scenario(
  client: TesseraClient,
  executor: () => ChdbExecutor,
  settled: (expected: Landed) => Promise<Landed>,
  base: number,
  onlineGen: number,
): Promise<void> {
  const now = Date.now();
  const live = clicks([
    [base + 1, now - 10_000, 'eligible', 1],
    [base + 2, now - 2 * HOUR, 'late', 2],
    [base + 3, now + 10 * MINUTE, 'future', 3],
    [base + 4, now - 50 * MINUTE, 'eligible', 4],
  ]);
  const first = await client.write(live);
  expect([first.rows, first.rowsExcludedLate, first.rowsExcludedFuture, first.rowsDuplicateEvents]).toEqual([
    4n,
    1n,
    1n,
    0n,
  ]);
  // History: offline only, always eligible however old or new.
  const history = await client.write(
    clicks(
      [
        [base + 5, now - 30 * DAY, 'history', 5],
        [base + 6, now + 2 * HOUR, 'history', 6],
      ],
      { target: WriteTarget.WRITE_TARGET_OFFLINE },
    ),
  );
  expect([history.rowsExcludedLate, history.rowsExcludedFuture]).toEqual([0n, 0n]);
  // Target ONLINE on an event view with aggregations: refused, nothing written.
  const refused = (await client
    .write(clicks([[base + 7, now, 'refused', 7]], { target: WriteTarget.WRITE_TARGET_ONLINE }))
    .catch((e: unknown) => e)) as TesseraClientError;
  expect(refused.grpcCodeName).toBe('FAILED_PRECONDITION');
  expect(refused.message).toContain(
    'aggregations are computed from the offline events too; write online and offline, or offline only for history',
  );
  // Replays: the same rows again without a key, twice under one key, and synchronously. Where the
  // online store folds events, each replay's two eligible events are duplicates.
  const duplicates = BigInt(2 * onlineGen);
  expect((await client.write(live)).rowsDuplicateEvents).toBe(duplicates);
  const keyed = { ...live, idempotencyKey: `replay-${base}` };
  const once = await client.write(keyed);
  expect(await client.write(keyed)).toEqual(once);
  expect([once.rowsExcludedLate, once.rowsExcludedFuture, once.rowsDuplicateEvents]).toEqual([1n, 1n, duplicates]);
  const sync = await client.write({ ...live, durability: Durability.DURABILITY_SYNC });
  expect(sync.rowsDuplicateEvents).toBe(duplicates);

  const expected: Landed = {
    main: [`${base + 1}:eligible`, `${base + 4}:eligible`, `${base + 5}:history`, `${base + 6}:history`],
    excluded: [`${base + 2}:late:late`, `${base + 3}:future:future`],
    // 4 live writes reach offline (first, unkeyed replay, keyed once, sync) + the 2 history rows.
    copies: 4 * 4 + 2,
  };
  const stored = await settled(expected);
  expect({ main: stored.main, excluded: stored.excluded }).toEqual({
    main: expected.main,
    excluded: expected.excluded,
  });
  // Every replay reached the offline store as rows of its own (a retried job may add more copies).
  expect(stored.copies).toBeGreaterThanOrEqual(expected.copies);

  // The stored fingerprint is the spec's (§1.2), computed here independently of the server.
  const [fp] = await executor().queryJson<{ fp: string; gen: number }>(
    `SELECT DISTINCT lower(hex(fp)) AS fp, online_gen AS gen FROM tessera.fv_clicks__v1 WHERE customer_id = ${base + 1}`,
  );
  const got = await client.get('feature_view', 'clicks');
  const view = fromWireView(got.object?.$case === 'featureView' ? got.object.value : undefined, 'clicks');
  const want = batchFingerprints(view, {
    joinKeyValues: [[BigInt(base + 1)]],
    eventTsMillis: Float64Array.of(now - 10_000),
    featureValues: [['eligible'], [1n]],
  });
  // online_gen: the generation holding the event online (every copy: a duplicate answers the
  // generation its first copy entered).
  expect(fp).toEqual({ fp: Buffer.from(want).toString('hex'), gen: onlineGen });

  // Plain features of the event view still read through the ASOF path on the new sorting key (and
  // copies of one event, several here, give one answer).
  expect(await pageAt(client, base + 1, now)).toBe('eligible');
  expect(await pageAt(client, base + 5, now - 29 * DAY)).toBe('history');
  expect(await pageAt(client, base + 5, now - 31 * DAY)).toBeNull();
  // Excluded events are excluded from aggregations only: plain features see them, as online LWW does.
  expect(await pageAt(client, base + 2, now)).toBe('late');
  expect(await pageAt(client, base + 3, now)).toBeNull();
  expect(await pageAt(client, base + 3, now + 11 * MINUTE)).toBe('future');
}

describe('event view ingest', () => {
  it('embedded: rows land where eligibility says, replays collapse, target ONLINE is refused', async () => {
    const fresh = freshBackend('embedded', []);
    closers.push(() => Promise.resolve(fresh.cleanup()));
    const dataDir = (fresh.backend as { dataDir: string }).dataDir;
    const t: TestServer = await startTestServer(fresh.backend, { logger: silentLogger, metrics: { port: 0 } });
    closers.push(async () => t[Symbol.asyncDispose]());
    await t.client.apply(REPO);
    let executor: ChdbExecutor | undefined;
    const open = () => (executor ??= ChdbExecutor.open({ path: join(dataDir, 'offline') }));
    closers.push(async () => executor?.close());
    await scenario(
      t.client,
      open,
      async (expected) => {
        let last: Landed | undefined;
        await pollUntil(
          async () => {
            if ((await t.server.writeBehind.stats()).pendingJobs > 0) return false;
            last = await landed(open(), 0);
            return complete(last, expected);
          },
          30_000,
          100,
        );
        return last ?? (await landed(open(), 0));
      },
      0,
      1,
    );
    // Three live writes excluded rows (first, unkeyed replay, sync), the keyed replay once: 4 late, 4 future.
    const metrics = await scrape(t.server.metricsPort!);
    expect([
      sample(metrics, 'tessera_aggregation_events_excluded_total', { view: 'clicks', reason: 'late' }),
      sample(metrics, 'tessera_aggregation_events_excluded_total', { view: 'clicks', reason: 'future' }),
    ]).toEqual([4, 4]);
  }, 120_000);

  it('cluster: through BullMQ, the writer and the offline server alike', async () => {
    const keyPrefix = `evt${randomBytes(4).toString('hex')}:`;
    const list = nodes.map((n) => `${n.host}:${n.port}`).join(',');
    const offlineDir = tempDir('event-ingest-offline');
    const offline: OfflineServer = await startOfflineServer({
      port: 0,
      dataDir: offlineDir,
      apiKeys: { kind: 'redis-cluster', nodes, keyPrefix },
      logger: silentLogger,
    });
    closers.push(() => offline.close());
    const { process: serve, client } = await startServeProcess([
      '--redis-cluster',
      list,
      '--key-prefix',
      keyPrefix,
      '--offline-server',
      offline.address,
    ]);
    processes.push(serve);
    closers.push(() => Promise.resolve(client.close()));
    processes.push(
      await startWriterCli(nodes, keyPrefix, tempDir('event-ingest-writer'), ['--offline-server', offline.address]),
    );
    await client.apply(REPO);
    let executor: ChdbExecutor | undefined;
    const open = () => (executor ??= ChdbExecutor.open({ path: join(offlineDir, 'offline') }));
    closers.push(async () => executor?.close());
    const base = 1000;
    await scenario(
      client,
      open,
      async (expected) => {
        let last: Landed | undefined;
        await pollUntil(
          async () => {
            last = await landed(open(), base);
            return complete(last, expected);
          },
          30_000,
          200,
        );
        return last ?? (await landed(open(), base));
      },
      base,
      // The Redis store folds the events (agg-write-2.lua) before they are enqueued: generation 1.
      1,
    );
  }, 120_000);
});

describe('write-behind jobs of event views', () => {
  it('a job inserted twice adds nothing under FINAL, and a job without fingerprints (queued before them) still inserts', async () => {
    const dir = tempDir('event-ingest-jobs');
    const store = await ClickHouseOfflineStore.open({ executor: ChdbExecutor.open({ path: join(dir, 'offline') }) });
    closers.push(() => store.close());
    const view: RegisteredView = {
      name: 'clicks',
      kind: 'events',
      id: 7,
      version: 1,
      entities: ['customer'],
      joinKeys: [{ name: 'customer_id', type: 'int64' }],
      features: [
        { name: 'page', type: 'string', constraints: {}, description: '', tags: {} },
        { name: 'n', type: 'int64', constraints: {}, description: '', tags: {} },
      ] as unknown as RegisteredView['features'],
      ttlSeconds: 0,
      owner: '',
      tags: {},
      description: '',
      createdAtMillis: 0,
      updatedAtMillis: 0,
    };
    await store.ensureTables([view]);
    const rows = {
      joinKeyValues: [[1n], [2n]],
      eventTsMillis: Float64Array.of(1_700_000_000_000, 1_700_000_000_001),
      featureValues: [
        ['a', 'b'],
        [1n, 2n],
      ],
    };
    const batch: OfflineBatch = {
      ...rows,
      fingerprints: batchFingerprints(view, rows),
      exclusions: Uint8Array.of(EXCLUSION_NONE, EXCLUSION_LATE),
    };
    const job = encodeOfflineJob(view, [{ batch, createdTsMicros: 1_700_000_000_000_000n }]);
    // The same job twice (a retry after a lost acknowledgement), under two tokens and two created times.
    await store.insert(view, decodeOfflineJob(job, view), { dedupToken: 'job-1' });
    const again = decodeOfflineJob(job, view);
    await store.insert(
      view,
      { ...again, createdTsMicros: again.createdTsMicros!.map((c) => c + 1n) },
      { dedupToken: 'job-1-retry' },
    );
    // A job of the same rows queued before fingerprints and exclusions were carried: eligible, fp computed at insert.
    const old = encodeOfflineJob({ ...view, kind: 'state' }, [
      { batch: rows, createdTsMicros: 1_700_000_000_000_002n },
    ]);
    await store.insert(view, decodeOfflineJob(old, view), { dedupToken: 'job-old' });
    const count = async (table: string, final: boolean): Promise<string> =>
      (
        await store.executor.queryJson<{ n: string }>(
          `SELECT toString(count()) AS n FROM tessera.${table}${final ? ' FINAL' : ''}`,
        )
      )[0]?.n ?? '';
    expect([
      await count('fv_clicks__v1', false),
      await count('fv_clicks__v1', true),
      await count('fv_clicks__v1__excluded', false),
      await count('fv_clicks__v1__excluded', true),
    ]).toEqual(['4', '2', '2', '1']);
    // Materialize reads an event view's plain rows from both tables: an excluded event is still the entity's latest row.
    await store.insert(
      view,
      {
        joinKeyValues: [[3n]],
        eventTsMillis: Float64Array.of(1_700_000_000_005),
        featureValues: [['late-but-latest'], [3n]],
        exclusions: Uint8Array.of(EXCLUSION_LATE),
      },
      { dedupToken: 'job-excluded-only' },
    );
    const latest: string[] = [];
    for await (const batch of store.latestRows(view, {
      startMillis: 1_600_000_000_000,
      endMillis: 1_800_000_000_000,
      batchRows: 100,
    })) {
      for (const row of batch) latest.push(`${String(row.keys[0])}:${String(row.features[0])}`);
    }
    expect(latest.sort()).toEqual(['1:a', '2:b', '3:late-but-latest']);
  }, 60_000);
});
