/**
 * Computed views in cluster mode behind `tessera offline-server` (design §5.1, §3.6): a real offline
 * server process owns chDB and checks the deployment's admin key; a cluster-mode `tessera serve`
 * (Redis Cluster online) reaches it through --offline-server. Apply names a bad SQL view from the
 * offline server's check (CheckSqlView); a backfill (`tessera backfill`) and a refresh tick — what
 * the writers' job runs, here with the remote store the writer uses — compute the view's rows on
 * the offline server (RefreshSqlView) and the values online equal GetHistorical's, as they do after
 * the ticks a real `tessera writer` runs from the job queue; a tile rebuild
 * (`tessera materialize --aggregations`) streams the events from the offline server (EventRows) and serves
 * what an embedded server rebuilds from the same events. A Write to an SQL view is refused, on the
 * cluster server and on an embedded one, and writes nothing.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fromColumn, toColumn, type TesseraClient, type TesseraClientError } from '@tessera/client';
import { silentLogger } from '@tessera/core';
import { sqlRefreshTickRunner } from '@tessera/materialize';
import { TableEnsuringOfflineStore } from '@tessera/offline';
import { RemoteOfflineStore, fromWireView } from '@tessera/offline-remote';
import { RedisClusterOnlineStore } from '@tessera/online';
import { BullmqSqlRefreshScheduler } from '@tessera/writebehind';
import { Durability, HistoricalFormat, WriteTarget, type Column, type GetHistoricalResponse } from '@tessera/proto';
import {
  REPO_ROOT,
  definitionsFromYaml,
  pollUntil,
  startOfflineServerCli,
  startServeProcess,
  startWriterCli,
  type CliProcess,
} from '@tessera/testkit';
import { freshBackend, startTestServer, type TestServer } from '../support/server.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const CLI = join(REPO_ROOT, 'packages/cli/bin/tessera.js');
const START = Date.UTC(2026, 10, 1);
const CATEGORIES = ['books', 'toys', 'games'];
const SQL_REFS = ['category_daily_revenue:revenue', 'category_daily_revenue:orders'];
const AGGREGATIONS = ['clicks_7d', 'pages_30d', 'last_pages'];
const AGG_REFS = AGGREGATIONS.map((a) => `clicks:${a}`);

const BASE = `
project: hop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
  - { name: category, join_keys: [category] }
feature_views:
  - name: purchases
    entities: [customer]
    features: [{ name: amount, type: double }, { name: category, type: string }]
  - name: clicks
    kind: events
    entities: [customer]
    allowed_lateness: 1h
    features: [{ name: page, type: string }]
    aggregations:
      - { name: clicks_7d, function: count, window: 7d }
      - { name: pages_30d, function: approx_distinct, input: page, window: 30d }
      - { name: last_pages, function: last_n, n: 3, input: page, window: unbounded }
`;
const SELECT = `SELECT assumeNotNull(category) AS category, toStartOfDay(event_ts) AS event_ts,
        sum(amount) AS revenue, count() AS orders
      FROM {{ purchases }}
      WHERE event_ts >= {start:DateTime64(3)} AND event_ts < {end:DateTime64(3)} AND category IS NOT NULL
      GROUP BY category, event_ts`;
const repo = (select: string) =>
  definitionsFromYaml({
    'repo.yaml': `${BASE}
sql_views:
  - name: category_daily_revenue
    entities: [category]
    sql: |
      ${select}
    schedule: { every: 1d, delay: 1h }
    features: [{ name: revenue, type: double }, { name: orders, type: int64 }]
`,
  });

/** 120 purchases over four days: three backfilled, the fourth refreshed by a tick. */
const PURCHASES = Array.from({ length: 120 }, (_, i) => ({
  customer: BigInt(i % 11),
  ts: START + Math.floor((i * 4 * DAY) / 120) + 17,
  amount: (i % 7) * 1.5 + 0.5,
  category: CATEGORIES[i % 3] as string,
}));

/** Purchases on each of the last three UTC days (real time): whichever day the writers' first tick refreshes has rows. */
const TODAY = Math.floor(Date.now() / DAY) * DAY;
const RECENT = Array.from({ length: 36 }, (_, i) => ({
  customer: BigInt(i % 5),
  ts: TODAY - 3 * DAY + Math.floor((i * 3 * DAY) / 36) + 29,
  amount: (i % 4) + 0.25,
  category: CATEGORIES[i % 3] as string,
}));

/** Clicks of 8 customers over the last three days (distinct times per customer); customer 9 has none. */
const NOW = Date.now();
const CUSTOMERS = Array.from({ length: 9 }, (_, i) => BigInt(i + 1));
const CLICKS = Array.from({ length: 40 }, (_, i) => ({
  customer: BigInt((i % 8) + 1),
  ts: NOW - 2 * HOUR - i * 97_531 - ((i * 7_919) % 3) * DAY,
  page: `p${(i * 5) % 7}`,
}));

const writePurchases = (client: TesseraClient, rows = PURCHASES) =>
  client.write({
    featureView: 'purchases',
    target: WriteTarget.WRITE_TARGET_OFFLINE,
    durability: Durability.DURABILITY_SYNC,
    columns: {
      customer_id: toColumn(
        'int64',
        rows.map((e) => e.customer),
      ),
      amount: toColumn(
        'double',
        rows.map((e) => e.amount),
      ),
      category: toColumn(
        'string',
        rows.map((e) => e.category),
      ),
    },
    eventTimestamps: toColumn(
      'timestamp',
      rows.map((e) => e.ts),
    ),
  });

/** History of the event view, offline only: it reaches online tiles through a rebuild. */
const writeClicks = (client: TesseraClient) =>
  client.write({
    featureView: 'clicks',
    target: WriteTarget.WRITE_TARGET_OFFLINE,
    durability: Durability.DURABILITY_SYNC,
    columns: {
      customer_id: toColumn(
        'int64',
        CLICKS.map((e) => e.customer),
      ),
      page: toColumn(
        'string',
        CLICKS.map((e) => e.page),
      ),
    },
    eventTimestamps: toColumn(
      'timestamp',
      CLICKS.map((e) => e.ts),
    ),
  });

async function failure(work: Promise<unknown>): Promise<TesseraClientError> {
  return (await work.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  )) as TesseraClientError;
}

/** GetHistorical columns by feature name, the entities given as (keys, t) rows. */
async function historical(
  client: TesseraClient,
  keys: Record<string, Column>,
  at: readonly number[],
  refs: readonly string[],
): Promise<Map<string, unknown[]>> {
  const chunks: GetHistoricalResponse[] = [];
  for await (const chunk of client.getHistorical({
    entities: { $case: 'rows', value: { keys, eventTimestamps: at.map(BigInt), passthrough: {} } },
    features: [...refs],
    featureService: '',
    format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
    chunkRows: 1_000,
  })) {
    chunks.push(chunk);
  }
  const names = chunks[0]?.names ?? [];
  return new Map(names.map((name, i) => [name, chunks.flatMap((c) => fromColumn(c.columns[i] as Column))]));
}

const { nodes } = inject('redisCluster');
const keyPrefix = `offcomp${randomBytes(4).toString('hex')}:`;
const list = nodes.map((n) => `${n.host}:${n.port}`).join(',');
const dir = mkdtempSync(join(tmpdir(), 'tessera-offline-computed-'));
const run = promisify(execFile);

describe('SQL views and tile rebuilds behind tessera offline-server (cluster mode)', () => {
  const processes: CliProcess[] = [];
  let cluster: TesseraClient;
  let serverAddress: string;
  let offlineAddress: string;
  let apiKey: string;
  let embedded: TestServer;
  let cleanupEmbedded: () => void;

  beforeAll(async () => {
    const { stdout } = await run(
      'node',
      [
        CLI,
        'keys',
        'create',
        'offline-caller',
        '--scopes',
        'admin',
        '--redis-cluster',
        list,
        '--key-prefix',
        keyPrefix,
      ],
      { cwd: REPO_ROOT },
    );
    apiKey = stdout.trim();
    const offline = await startOfflineServerCli(join(dir, 'offline'), [
      '--auth',
      '--redis-cluster',
      list,
      '--key-prefix',
      keyPrefix,
    ]);
    processes.push(offline.process);
    offlineAddress = offline.address;
    const serve = await startServeProcess(
      ['--redis-cluster', list, '--key-prefix', keyPrefix, '--offline-server', offline.address],
      { TESSERA_OFFLINE_API_KEY: apiKey },
    );
    processes.push(serve.process);
    cluster = serve.client;
    serverAddress = (await serve.process.waitFor(/serving on (\S+)/))[1] ?? '';
    const fresh = freshBackend('embedded', []);
    cleanupEmbedded = fresh.cleanup;
    embedded = await startTestServer(fresh.backend, { logger: silentLogger });
  }, 120_000);

  afterAll(async () => {
    cluster?.close();
    for (const p of processes.reverse()) await p.stop('SIGTERM');
    await embedded?.[Symbol.asyncDispose]();
    cleanupEmbedded?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a bad SQL view at apply from the offline server, and applies the good one', async () => {
    const wrongType = await failure(
      cluster.apply(repo(SELECT.replace('sum(amount) AS revenue', 'toString(sum(amount)) AS revenue'))),
    );
    expect(wrongType.grpcCodeName).toBe('INVALID_ARGUMENT');
    expect(wrongType.message).toContain(
      'SQL view category_daily_revenue: column revenue is Nullable(String), feature revenue is double: wrap it in toFloat64(…)',
    );
    const several = await failure(cluster.apply(repo(`${SELECT}; SELECT 1`)));
    expect(several.message).toContain('SQL view category_daily_revenue: sql exactly one SELECT statement is allowed');
    expect((await cluster.list()).featureViews).toEqual([]);
    await cluster.apply(repo(SELECT));
    await embedded.client.apply(repo(SELECT));
    await writePurchases(cluster);
  });

  it('backfills (tessera backfill) and refreshes through the offline server: online equals GetHistorical', async () => {
    const range = ['--from', String(START), '--to', String(START + 3 * DAY)];
    const backfill = await run('node', [
      CLI,
      '--server',
      serverAddress,
      'backfill',
      'category_daily_revenue',
      ...range,
    ]);
    expect(backfill.stdout).toMatch(/^backfilled category_daily_revenue@1: \d+ entities read, 3 written online/m);
    const sums = (day: number) =>
      CATEGORIES.map((c) => {
        const of = PURCHASES.filter((e) => e.category === c && e.ts >= day && e.ts < day + DAY);
        return [of.reduce((a, e) => a + e.amount, 0), BigInt(of.length)] as const;
      });
    const check = async (day: number): Promise<void> => {
      const online = await cluster.getOnlineFeatures(
        SQL_REFS,
        { category: CATEGORIES },
        { includeEventTimestamps: true },
      );
      expect(online.eventTimestamps?.[0]).toEqual(CATEGORIES.map(() => day));
      const [revenue, orders] = online.values;
      sums(day).forEach(([r, n], i) => {
        expect(revenue?.[i]).toBeCloseTo(r, 9);
        expect(orders?.[i]).toBe(n);
      });
      const offline = await historical(
        cluster,
        { category: toColumn('string', CATEGORIES) },
        CATEGORIES.map(() => day + DAY),
        SQL_REFS,
      );
      expect(offline.get('category_daily_revenue__revenue')).toEqual(revenue);
      expect(offline.get('category_daily_revenue__orders')).toEqual(orders);
    };
    await check(START + 2 * DAY);

    // A tick of the writers' job scheduler, with the writer's store: the remote one.
    const got = (await cluster.get('feature_view', 'category_daily_revenue')).object;
    const view = fromWireView(got?.$case === 'featureView' ? got.value : undefined, 'test');
    const remote = new RemoteOfflineStore({ address: offlineAddress, apiKey });
    const online = new RedisClusterOnlineStore({ nodes, keyPrefix });
    try {
      const tick = sqlRefreshTickRunner({
        offline: new TableEnsuringOfflineStore(remote),
        online,
        findView: () => view,
      });
      // Tick at day 4 + 2 h (delay 1 h): the interval is day 4 [START + 3d, START + 4d).
      await tick({ view: 'category_daily_revenue', version: 1 }, START + 4 * DAY + 2 * HOUR);
      // Again (a retried job): the same token inserts once.
      await tick({ view: 'category_daily_revenue', version: 1 }, START + 4 * DAY + 2 * HOUR);
    } finally {
      await online.close();
      await remote.close();
    }
    await check(START + 3 * DAY);
  });

  it('rebuilds tiles from the offline server (tessera materialize --aggregations) as an embedded server does', async () => {
    await writeClicks(cluster);
    await writeClicks(embedded.client);
    const before = await cluster.getOnlineFeatures(['clicks:clicks_7d'], { customer_id: CUSTOMERS });
    expect(before.values[0]?.every((v) => v === 0n)).toBe(true);
    const rebuilt = await run('node', [CLI, '--server', serverAddress, 'materialize', 'clicks', '--aggregations']);
    expect(rebuilt.stdout).toMatch(
      /rebuilt clicks@1 aggregations: 40 events read, 8 entities written \((\d+)\/\1 parts\)/,
    );
    await embedded.client.materialize({ featureViews: ['clicks'], aggregations: true });
    const norm = (v: unknown): unknown => (Array.isArray(v) ? [...(v as unknown[])] : v);
    const read = async (client: TesseraClient) =>
      (await client.getOnlineFeatures(AGG_REFS, { customer_id: CUSTOMERS })).values.map((c) => c.map(norm));
    const overHop = await read(cluster);
    expect(overHop).toEqual(await read(embedded.client));
    // Customer 1's seven-day count is every one of its clicks; customer 9 has none.
    expect(overHop[0]?.[0]).toBe(BigInt(CLICKS.filter((c) => c.customer === 1n).length));
    expect(overHop[0]?.[8]).toBe(0n);
  });

  it("refreshes on the writers' job scheduler through the offline server (a tessera writer process)", async () => {
    await writePurchases(cluster, RECENT);
    // The server keeps one job scheduler per SQL view version (every 1d, due at 01:00 UTC); ticks every
    // second instead, as the refresh test of the queue does: each refreshes the view's own interval of
    // its time T (the last whole day before T − 1h).
    const scheduler = new BullmqSqlRefreshScheduler({ nodes, keyPrefix, logger: silentLogger });
    // Once the server has synced its schedulers with the apply (a pass every 5 s; none again until the
    // registry moves), its daily one is replaced by one ticking every second.
    const id = 'sql:category_daily_revenue@1';
    expect(await pollUntil(async () => (await scheduler.schedulerIds()).includes(id), 30_000, 100)).toBe(true);
    await scheduler.sync([{ view: 'category_daily_revenue', version: 1, everyMillis: 1_000, delayMillis: 0 }]);
    const writer = await startWriterCli(nodes, keyPrefix, join(dir, 'writer'), ['--offline-server', offlineAddress], {
      TESSERA_OFFLINE_API_KEY: apiKey,
    });
    processes.push(writer);
    const servedDay = async (): Promise<number> =>
      (await cluster.getOnlineFeatures(SQL_REFS, { category: CATEGORIES }, { includeEventTimestamps: true }))
        .eventTimestamps?.[0]?.[0] ?? 0;
    try {
      expect(await pollUntil(async () => (await servedDay()) >= TODAY - 3 * DAY, 30_000, 200), writer.output()).toBe(
        true,
      );
    } finally {
      await scheduler.sync([]);
      await scheduler.close();
    }
    const day = await servedDay();
    const online = await cluster.getOnlineFeatures(
      SQL_REFS,
      { category: CATEGORIES },
      { includeEventTimestamps: true },
    );
    expect(online.eventTimestamps?.[0]).toEqual(CATEGORIES.map(() => day));
    CATEGORIES.forEach((c, i) => {
      const of = RECENT.filter((e) => e.category === c && e.ts >= day && e.ts < day + DAY);
      expect(online.values[0]?.[i]).toBeCloseTo(
        of.reduce((a, e) => a + e.amount, 0),
        9,
      );
      expect(online.values[1]?.[i]).toBe(BigInt(of.length));
    });
    const offline = await historical(
      cluster,
      { category: toColumn('string', CATEGORIES) },
      CATEGORIES.map(() => day + DAY),
      SQL_REFS,
    );
    expect(offline.get('category_daily_revenue__revenue')).toEqual(online.values[0]);
    expect(offline.get('category_daily_revenue__orders')).toEqual(online.values[1]);
  });

  it('refuses a Write to an SQL view (cluster and embedded), naming it; nothing is written', async () => {
    // Newer than every computed row: written, it would be the value served online and offline.
    const at = Date.now() - 1_000;
    const write = (client: TesseraClient) =>
      client.write({
        featureView: 'category_daily_revenue',
        columns: {
          category: toColumn('string', ['books']),
          revenue: toColumn('double', [1e9]),
          orders: toColumn('int64', [1n]),
        },
        eventTimestamps: toColumn('timestamp', [at]),
      });
    for (const client of [cluster, embedded.client]) {
      const refused = await failure(write(client));
      expect(refused.grpcCodeName).toBe('FAILED_PRECONDITION');
      expect(refused.message).toContain(
        'Write: category_daily_revenue is an SQL view: its rows are computed by its SQL (from purchases@1)',
      );
    }
    const online = await cluster.getOnlineFeatures(SQL_REFS, { category: ['books'] }, { includeEventTimestamps: true });
    expect(online.eventTimestamps?.[0]?.[0]).toBeLessThan(at - DAY);
    expect(online.values[0]?.[0]).not.toBe(1e9);
    const offline = await historical(cluster, { category: toColumn('string', ['books']) }, [at + 1], SQL_REFS);
    expect(offline.get('category_daily_revenue__revenue')).toEqual(online.values[0]);
  });
});
