/**
 * The offline store over the hop: a real offline server (in this process, real chDB) and the
 * remote store feature servers and writers use. What goes through the hop must be what the store
 * does directly: same rows, same Arrow bytes, same errors, deduplicated inserts, and a cancelled
 * training set stops its query on the offline server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isTesseraError,
  latestView,
  resolveFeatureRefs,
  type HistoricalChunk,
  type HistoricalRequest,
  type OfflineBatch,
  type OfflineEventRow,
  type RegisteredView,
  type ResolvedFeatures,
} from '@tessera/core';
import { openEmbeddedOfflineStore, type ClickHouseOfflineStore } from '@tessera/offline';
import { RemoteOfflineStore, toWireView } from '@tessera/offline-remote';
import { Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import {
  OfflineStoreClient,
  type EventRowsBatch,
  type EventRowsRequest,
  type InsertRequest,
  type LatestRowsBatch,
  type LatestRowsRequest,
  type RefreshSqlViewRequest,
} from '@tessera/proto';
import { toColumn } from '@tessera/wire';
import { startOfflineServer, type OfflineServer } from '@tessera/feature-server';
import { LmdbRegistryLog, Registry, createKey, openApiKeyStore } from '@tessera/registry';
import { definitionsFromYaml, makeTestCertificates, pollUntil, runningQueries } from '@tessera/testkit';
import { silentLogger } from '@tessera/core';

const REPO = {
  'repo.yaml': `
project: hop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
  - { name: region, join_keys: [{ name: region_code, type: string }] }
feature_views:
  - name: orders
    entities: [customer]
    features:
      - { name: amount, type: double }
      - { name: note, type: string }
      - { name: tags, type: string_list }
  - name: every
    entities: [customer, region]
    features:
      - { name: i, type: int64 }
      - { name: d, type: double }
      - { name: s, type: string }
      - { name: b, type: bool }
      - { name: t, type: timestamp }
      - { name: y, type: bytes }
      - { name: fl, type: float_list }
      - { name: dl, type: double_list }
      - { name: il, type: int64_list }
      - { name: sl, type: string_list }
  - name: clicks
    kind: events
    entities: [customer]
    features:
      - { name: page, type: string, not_null: true }
    aggregations:
      - { name: clicks_1d, function: count, window: 1d }
      - { name: clicks_by_page_1d, function: count, window: 1d, group_by: page }
      - { name: pages_30d, function: approx_distinct, input: page, window: 30d }
      - { name: last_pages, function: last_n, n: 2, input: page, window: unbounded }
sql_views:
  - name: daily_spend
    entities: [customer]
    sql: |
      SELECT customer_id, toStartOfDay(event_ts) AS event_ts, sum(amount) AS spend FROM {{ orders }}
      WHERE event_ts >= {start:DateTime64(3)} AND event_ts < {end:DateTime64(3)} GROUP BY customer_id, event_ts
    schedule: { every: 1d }
    features: [{ name: spend, type: double }]
`,
};

const T0 = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;

/** An entity SELECT that runs for minutes (a 10^12-pair sum), tagged by `marker`. */
function runaway(marker: string): string {
  return (
    `SELECT toInt64(sum(a.number * b.number) % 3) AS customer_id, now64(3) AS event_ts, '${marker}' AS tag ` +
    'FROM numbers(1000000) AS a CROSS JOIN numbers(1000000) AS b'
  );
}

async function collect(chunks: AsyncIterable<HistoricalChunk>): Promise<HistoricalChunk[]> {
  const out: HistoricalChunk[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
}

async function failure(work: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await work;
  } catch (error) {
    if (isTesseraError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a failure');
}

describe('the offline store through an offline server (real chDB)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-offline-server-'));
  let server: OfflineServer;
  let direct: ClickHouseOfflineStore;
  let remote: RemoteOfflineStore;
  let registry: Registry;
  let view: RegisteredView;
  let features: ResolvedFeatures;
  let adminToken: string;
  let readToken: string;
  /** Rows stored in orders@1's table. */
  const countRows = async (): Promise<number> => {
    const rows = await direct.executor.queryJson<{ n: string }>(
      `SELECT count() AS n FROM ${direct.database}.fv_orders__v1`,
    );
    return Number(rows[0]?.n);
  };

  beforeAll(async () => {
    const keys = openApiKeyStore({ kind: 'embedded', dataDir });
    adminToken = (await createKey(keys, 'hop-admin', ['admin'])).token;
    readToken = (await createKey(keys, 'hop-reader', ['read'])).token;
    await keys.close();
    server = await startOfflineServer({
      port: 0,
      dataDir,
      apiKeys: { kind: 'embedded', dataDir },
      auth: true,
      logger: silentLogger,
    });
    // The same engine as the server's (chDB shares one per directory and process): the direct reference.
    direct = await openEmbeddedOfflineStore(dataDir);
    remote = new RemoteOfflineStore({ address: server.address, apiKey: adminToken });
    registry = await Registry.open(new LmdbRegistryLog({ directory: join(dataDir, 'registry') }));
    await registry.apply(definitionsFromYaml(REPO));
    view = latestView(registry.state(), 'orders') as RegisteredView;
    features = resolveFeatureRefs(registry.state(), { refs: ['orders:amount', 'orders:note', 'orders:tags'] });
    await remote.ensureTables([view]);
  });

  afterAll(async () => {
    await remote?.close();
    await registry?.close();
    await direct?.close();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const batch: OfflineBatch = {
    joinKeyValues: [[1n], [1n], [2n]],
    eventTsMillis: Float64Array.from([T0 + HOUR, T0 + 3 * HOUR, T0 + 2 * HOUR]),
    featureValues: [
      [1.5, null, -0],
      ['a', 'b', null],
      [['x', 'y'], null, []],
    ],
    createdTsMicros: BigInt64Array.from([1n, 2n, 3n]),
  };

  const request = (format: 'arrow' | 'columns'): HistoricalRequest => ({
    entities: {
      kind: 'rows',
      keys: new Map([['customer_id', [1n, 1n, 2n, 3n]]]),
      eventTsMillis: [T0 + 2 * HOUR, T0 + 4 * HOUR, T0 + 4 * HOUR, T0 + 4 * HOUR],
      passthrough: [{ name: 'label', type: 'bool', values: [true, false, null, true] }],
    },
    features,
    chunkRows: 2,
    format,
  });

  it('inserts once per deduplication token, however often the insert is retried', async () => {
    await remote.insert(view, batch, { dedupToken: 'job-1' });
    await remote.insert(view, batch, { dedupToken: 'job-1' });
    expect(await countRows()).toBe(3);
  });

  it('returns the same training set over the hop as directly: Arrow bytes and columns', async () => {
    const overHop = await collect(remote.historical(request('arrow')));
    const local = await collect(direct.historical(request('arrow')));
    expect(overHop.map((c) => [c.firstRow, c.rowCount])).toEqual([
      [0, 2],
      [2, 2],
    ]);
    expect(overHop.map((c) => Buffer.from(c.arrowIpc ?? []).toString('hex'))).toEqual(
      local.map((c) => Buffer.from(c.arrowIpc ?? []).toString('hex')),
    );
    const columns = await collect(remote.historical(request('columns')));
    expect(columns).toEqual(await collect(direct.historical(request('columns'))));
    // Point in time: customer 1 at T0+2h sees the 1h event, at T0+4h the 3h one (a null amount).
    const amount = columns.flatMap((c) => c.columns?.find((col) => col.name === 'orders__amount')?.values ?? []);
    expect(amount).toEqual([1.5, null, -0, null]);
  });

  it('carries window aggregations: the same training set over the hop as directly', async () => {
    const clicks = latestView(registry.state(), 'clicks') as RegisteredView;
    await remote.ensureTables([clicks]);
    await remote.insert(clicks, {
      joinKeyValues: [[1n], [1n], [1n], [2n]],
      eventTsMillis: Float64Array.from([T0, T0 + HOUR, T0 + 2 * HOUR, T0]),
      featureValues: [['home', 'cart', 'home', 'x']],
    });
    const aggregated = (format: 'arrow' | 'columns'): HistoricalRequest => ({
      ...request(format),
      features: resolveFeatureRefs(registry.state(), {
        refs: ['clicks:last_pages', 'orders:amount', 'clicks:clicks_1d', 'clicks:pages_30d'],
      }),
    });
    const columns = await collect(remote.historical(aggregated('columns')));
    expect(columns).toEqual(await collect(direct.historical(aggregated('columns'))));
    const byName = new Map(
      (columns[0]?.columns ?? []).map((c, i) => [c.name, columns.flatMap((k) => k.columns?.[i]?.values ?? [])]),
    );
    expect(byName.get('clicks__clicks_1d')).toEqual([3n, 3n, 1n, 0n]);
    expect(byName.get('clicks__pages_30d')).toEqual([2n, 2n, 1n, 0n]);
    expect(byName.get('clicks__last_pages')).toEqual([['home', 'cart'], ['home', 'cart'], ['x'], []]);
    const arrow = await collect(remote.historical(aggregated('arrow')));
    expect(arrow).toEqual(await collect(direct.historical(aggregated('arrow'))));
  });

  it('carries grouped aggregations: the group column travels as an entity row column (clicks of the test above)', async () => {
    const grouped = (format: 'arrow' | 'columns'): HistoricalRequest => ({
      entities: {
        kind: 'rows',
        keys: new Map([['customer_id', [1n, 1n, 2n, 3n]]]),
        eventTsMillis: [T0 + 2 * HOUR, T0 + 4 * HOUR, T0 + 4 * HOUR, T0 + 4 * HOUR],
        passthrough: [{ name: 'page', type: 'string', values: ['home', 'cart', 'x', 'home'] }],
      },
      features: resolveFeatureRefs(registry.state(), { refs: ['clicks:clicks_by_page_1d', 'clicks:clicks_1d'] }),
      chunkRows: 2,
      format,
    });
    const columns = await collect(remote.historical(grouped('columns')));
    expect(columns).toEqual(await collect(direct.historical(grouped('columns'))));
    const byName = new Map(
      (columns[0]?.columns ?? []).map((c, i) => [c.name, columns.flatMap((k) => k.columns?.[i]?.values ?? [])]),
    );
    expect(byName.get('clicks__clicks_by_page_1d')).toEqual([2n, 1n, 1n, 0n]);
    expect(byName.get('clicks__clicks_1d')).toEqual([3n, 3n, 1n, 0n]);
    expect(await collect(remote.historical(grouped('arrow')))).toEqual(
      await collect(direct.historical(grouped('arrow'))),
    );
  });

  it('reads the latest rows as the store does', async () => {
    const range = { startMillis: T0, endMillis: T0 + 10 * HOUR, batchRows: 1 };
    const overHop = [];
    for await (const rows of remote.latestRows(view, range)) overHop.push(rows);
    const local = [];
    for await (const rows of direct.latestRows(view, range)) local.push(rows);
    expect(overHop).toEqual(local);
    expect(overHop.flat().map((r) => r.keys[0])).toEqual(expect.arrayContaining([1n, 2n]));
  });

  it("keeps the store's errors: code and message of a refused entity source", async () => {
    const source = {
      name: 'bad_source',
      description: '',
      owner: '',
      params: [],
      sql: 'SELECT customer_id, event_ts FROM system.users',
    };
    const overHop = await failure(remote.checkEntitySource(source));
    const local = await failure(direct.checkEntitySource(source));
    expect(overHop).toEqual(local);
    expect(overHop.code).toBe('INVALID_ARGUMENT');
  });

  it('carries every value type both ways: inserted over the hop, read back over it as the store reads it', async () => {
    const every = latestView(registry.state(), 'every') as RegisteredView;
    await remote.insert(every, {
      joinKeyValues: [
        [9_223_372_036_854_775_807n, 'eu'],
        [-1n, ''],
      ],
      eventTsMillis: Float64Array.from([T0 + HOUR, T0 + 2 * HOUR]),
      featureValues: [
        [-9_223_372_036_854_775_808n, null],
        [Number.NaN, -0],
        ['é 🌍 \t\n\\ \'"', null],
        [true, false],
        [T0 + 5, null],
        [Uint8Array.from([0, 255, 10]), null],
        [Float32Array.from([1.5, -2]), null],
        [Float64Array.from([Number.MAX_VALUE]), Float64Array.from([])],
        [BigInt64Array.from([1n, -1n]), null],
        [['a', ''], null],
      ],
    });
    const range = { startMillis: T0, endMillis: T0 + 10 * HOUR, batchRows: 100 };
    const overHop = [];
    for await (const rows of remote.latestRows(every, range)) overHop.push(...rows);
    const local = [];
    for await (const rows of direct.latestRows(every, range)) local.push(...rows);
    expect(overHop).toHaveLength(2);
    expect(overHop).toEqual(local);
    const refs = resolveFeatureRefs(registry.state(), { refs: ['every:*'] });
    const historical = (format: 'columns' | 'arrow'): HistoricalRequest => ({
      entities: {
        kind: 'rows',
        keys: new Map<string, (bigint | string)[]>([
          ['customer_id', [9_223_372_036_854_775_807n, -1n]],
          ['region_code', ['eu', '']],
        ]),
        eventTsMillis: [T0 + 3 * HOUR, T0 + 3 * HOUR],
        passthrough: [],
      },
      features: refs,
      chunkRows: 10,
      format,
    });
    expect(await collect(remote.historical(historical('columns')))).toEqual(
      await collect(direct.historical(historical('columns'))),
    );
  });

  it('refuses a view whose names are not identifiers before anything reaches chDB', async () => {
    const evil = { ...view, name: 'orders; DROP TABLE x' };
    const result = await failure(remote.ensureTables([evil]));
    expect(result.code).toBe('INVALID_ARGUMENT');
    expect(result.message).toMatch(/EnsureTables\.views\[0\].*not a valid identifier/);
  });

  it('refuses a caller without a key, and a key without the admin scope', async () => {
    const anonymous = new RemoteOfflineStore({ address: server.address });
    const reader = new RemoteOfflineStore({ address: server.address, apiKey: readToken });
    try {
      expect((await failure(anonymous.ping())).code).toBe('UNAUTHENTICATED');
      const denied = await failure(reader.insert(view, batch, { dedupToken: 'job-2' }));
      expect(denied.code).toBe('PERMISSION_DENIED');
      expect(denied.message).toMatch(/lacks the admin scope/);
    } finally {
      await anonymous.close();
      await reader.close();
    }
    expect(await countRows()).toBe(3);
  });

  it('stops the query on the offline server when the caller cancels its training set', async () => {
    const marker = `hop_cancel_${process.pid}_${Date.now()}`;
    const abort = new AbortController();
    const running = collect(
      remote.historical({ ...request('arrow'), entities: { kind: 'sql', sql: runaway(marker) }, signal: abort.signal }),
    );
    const seen = async (): Promise<boolean> => (await runningQueries(direct.executor, marker)) > 0;
    expect(await pollUntil(seen, 30_000, 100)).toBe(true);
    abort.abort();
    const result = await failure(running);
    expect(result.code).toBe('UNAVAILABLE');
    expect(await pollUntil(async () => !(await seen()), 30_000, 100)).toBe(true);
    // The offline server answers the next call.
    await remote.ping();
  });

  it('ends a training set at its deadline with DEADLINE_EXCEEDED, and the query with it', async () => {
    const marker = `hop_deadline_${process.pid}_${Date.now()}`;
    const result = await failure(
      collect(
        remote.historical({
          ...request('arrow'),
          entities: { kind: 'sql', sql: runaway(marker) },
          deadlineMillis: Date.now() + 1_500,
        }),
      ),
    );
    expect(result.code).toBe('DEADLINE_EXCEEDED');
    const running = async (): Promise<boolean> => (await runningQueries(direct.executor, marker)) > 0;
    expect(await pollUntil(async () => !(await running()), 30_000, 100)).toBe(true);
  });

  it('speaks mTLS when the offline server asks for client certificates', async () => {
    using certs = makeTestCertificates();
    await using secured = await startOfflineServer({
      port: 0,
      dataDir,
      apiKeys: { kind: 'embedded', dataDir },
      auth: true,
      tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, clientCaFile: certs.caFile },
      logger: silentLogger,
    });
    const tls = { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile };
    const client = new RemoteOfflineStore({ address: secured.address, apiKey: adminToken, tls });
    const noCertificate = new RemoteOfflineStore({
      address: secured.address,
      apiKey: adminToken,
      tls: { caFile: certs.caFile },
    });
    try {
      await client.ping();
      expect((await failure(noCertificate.ping())).code).toBe('UNAVAILABLE');
    } finally {
      await client.close();
      await noCertificate.close();
    }
  });

  it('refuses a batch whose columns do not fit the view, naming the column', async () => {
    const client = new OfflineStoreClient(server.address, credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${adminToken}`);
    const insert = (request: Partial<InsertRequest>): Promise<ServiceError | null> =>
      new Promise((resolve) =>
        client.insert(
          {
            view: toWireView(view),
            joinKeys: [toColumn('int64', [1n])],
            eventTsMillis: [T0],
            features: [],
            createdTsMicros: [],
            dedupToken: '',
            fingerprints: Buffer.alloc(0),
            exclusions: Buffer.alloc(0),
            onlineGenerations: [],
            ...request,
          },
          metadata,
          (error) => resolve(error),
        ),
      );
    try {
      const wrongType = await insert({ features: [toColumn('string', ['x'])] });
      expect(wrongType?.code).toBe(status.INVALID_ARGUMENT);
      expect(wrongType?.details).toMatch(/feature amount: a double column was expected, got string/);
      const nullKey = await insert({ joinKeys: [toColumn('int64', [null])] });
      expect(nullKey?.details).toMatch(/join key customer_id has null rows/);
      const short = await insert({ eventTsMillis: [T0, T0 + 1] });
      expect(short?.details).toMatch(/join key customer_id: 1 values for 2 rows/);
      // The other fields' bounds (the dedup token becomes an engine setting, times must fit DateTime64).
      const daily = latestView(registry.state(), 'daily_spend') as RegisteredView;
      // Nothing of a refused insert lands: the view's rows before and after are the same.
      const before = await countRows();
      const refusedInserts: [Promise<ServiceError | null>, RegExp, number][] = [
        [
          insert({ dedupToken: "t' SETTINGS x=1" }),
          /Insert into orders@1: dedup_token must be 1 to 128 characters/,
          status.INVALID_ARGUMENT,
        ],
        [insert({ dedupToken: 'x'.repeat(129) }), /dedup_token must be 1 to 128 characters/, status.INVALID_ARGUMENT],
        [
          insert({ eventTsMillis: [Number.NaN] }),
          /row 0: event_ts_millis NaN must be an integer number of ms/,
          status.INVALID_ARGUMENT,
        ],
        [
          insert({ eventTsMillis: [T0 + 0.5] }),
          /row 0: event_ts_millis 1704067200000.5 must be an integer/,
          status.INVALID_ARGUMENT,
        ],
        [
          insert({ eventTsMillis: [1e16] }),
          /row 0: event_ts_millis 10000000000000000 must be an integer number of ms between/,
          status.INVALID_ARGUMENT,
        ],
        [
          insert({ createdTsMicros: [2n ** 62n] }),
          /row 0: created_ts_micros 4611686018427387904 is outside DateTime64's range/,
          status.INVALID_ARGUMENT,
        ],
        [
          insert({ view: toWireView(daily) }),
          /Insert into daily_spend@1: an SQL view is computed by its SELECT; it takes no inserts/,
          status.FAILED_PRECONDITION,
        ],
      ];
      for (const [call, message, code] of refusedInserts) {
        const error = await call;
        expect(error?.code, String(message)).toBe(code);
        expect(error?.details).toMatch(message);
      }
      expect(await countRows()).toBe(before);
    } finally {
      client.close();
    }
  });

  it('streams the events of a rebuild as the store does, and answers the SQL view calls as the store does', async () => {
    const clicks = latestView(registry.state(), 'clicks') as RegisteredView;
    const range = { beforeGeneration: 2, part: { index: 0, count: 1 }, batchRows: 2 };
    const overHop: OfflineEventRow[][] = [];
    for await (const rows of remote.eventRows(clicks, range)) overHop.push(rows);
    const local: OfflineEventRow[][] = [];
    for await (const rows of direct.eventRows(clicks, range)) local.push(rows);
    expect(overHop.flat().length).toBeGreaterThan(0);
    const hex = (batches: OfflineEventRow[][]) =>
      batches.map((b) => b.map((r) => ({ ...r, fp: Buffer.from(r.fp).toString('hex') })));
    expect(hex(overHop)).toEqual(hex(local));

    const daily = latestView(registry.state(), 'daily_spend') as RegisteredView;
    await remote.ensureTables([daily]);
    await remote.checkSqlView(daily, [view]);
    const wrong = { ...daily, features: [{ ...daily.features[0]!, type: 'string' as const }] };
    const bad = await failure(remote.checkSqlView(wrong, [view]));
    expect(bad).toEqual(await failure(direct.checkSqlView(wrong, [view])));
    expect(bad.message).toContain('SQL view daily_spend: column spend is Nullable(Float64), feature spend is string');
    await remote.refreshSqlView(daily, { startMillis: T0, endMillis: T0 + 86_400_000 }, { dedupToken: 'day-1' });
    const rows = [];
    for await (const batch of direct.latestRows(daily, { startMillis: T0, endMillis: T0 + 1, batchRows: 10 })) {
      rows.push(...batch);
    }
    // Customer 1's orders of the day: 1.5 and a null amount; customer 2's -0 (sum() gives 0).
    expect(rows.map((r) => [r.keys[0], r.features[0]])).toEqual([
      [1n, 1.5],
      [2n, 0],
    ]);
  });

  it('refuses SQL view and event calls whose fields are out of bounds or disagree, before anything runs', async () => {
    const daily = latestView(registry.state(), 'daily_spend') as RegisteredView;
    const clicks = latestView(registry.state(), 'clicks') as RegisteredView;
    // The lineage must be the SQL's placeholders, each a view@version (it names the tables read).
    const lineage = await failure(
      remote.checkSqlView({ ...daily, sql: { ...daily.sql!, reads: ['every@1'] } }, [view]),
    );
    expect(lineage.code).toBe('INVALID_ARGUMENT');
    expect(lineage.message).toMatch(/lineage every@1 is not one of the views the SQL's placeholders name/);
    const evil = await failure(
      remote.refreshSqlView(
        { ...daily, sql: { ...daily.sql!, reads: ['orders@1`; DROP TABLE x'] } },
        { startMillis: T0, endMillis: T0 + 1 },
        { dedupToken: 'x' },
      ),
    );
    expect(evil.message).toMatch(/is not view@version/);
    const reads = await failure(remote.checkSqlView(daily, [clicks]));
    expect(reads.message).toMatch(/the read views \(clicks@1\) are not the SQL view's lineage \(orders@1\)/);

    const client = new OfflineStoreClient(server.address, credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${adminToken}`);
    const refresh = (request: Partial<RefreshSqlViewRequest>): Promise<ServiceError | null> =>
      new Promise((resolve) =>
        client.refreshSqlView(
          {
            view: toWireView(daily),
            startMillis: BigInt(T0),
            endMillis: BigInt(T0 + 86_400_000),
            dedupToken: 'tok',
            ...request,
          },
          metadata,
          (error) => resolve(error),
        ),
      );
    const events = (request: Partial<EventRowsRequest>): Promise<ServiceError | undefined> =>
      new Promise((resolve) => {
        const call = client.eventRows(
          { view: toWireView(clicks), beforeGeneration: 2, partIndex: 0, partCount: 0, batchRows: 10, ...request },
          metadata,
        );
        call.on('data', (_: EventRowsBatch) => undefined);
        call.on('error', (error: ServiceError) => resolve(error));
        call.on('end', () => resolve(undefined));
      });
    /** The rows a LatestRows call streamed, or its error. */
    const latest = (request: Partial<LatestRowsRequest>): Promise<ServiceError | number> =>
      new Promise((resolve) => {
        const call = client.latestRows(
          {
            view: toWireView(view),
            startMillis: T0,
            endMillis: T0 + 1,
            partIndex: 0,
            partCount: 0,
            batchRows: 10,
            ...request,
          },
          metadata,
        );
        let rows = 0;
        call.on('data', (batch: LatestRowsBatch) => (rows += batch.eventTsMillis.length));
        call.on('error', (error: ServiceError) => resolve(error));
        call.on('end', () => resolve(rows));
      });
    try {
      // An unbounded range is every row (clamped to what the store holds), not an error; a range wholly
      // before what the store holds is none.
      const everyRow = await latest({ startMillis: -Infinity, endMillis: Infinity });
      expect(everyRow).toBe(await latest({ startMillis: T0 - 365 * 86_400_000, endMillis: T0 + 365 * 86_400_000 }));
      expect(everyRow).toBeGreaterThan(0);
      expect(await latest({ startMillis: -Infinity, endMillis: Date.UTC(1800, 0, 1) })).toBe(0);
      const refusedReads: [Promise<ServiceError | number>, RegExp][] = [
        [latest({ batchRows: 0 }), /LatestRows of orders@1: batch_rows 0 must be between 1 and 20000/],
        [latest({ batchRows: 20_001 }), /batch_rows 20001 must be between 1 and 20000/],
        [latest({ partIndex: 2, partCount: 2 }), /part_index 2 must be below part_count 2/],
        [latest({ partIndex: 3 }), /part_index 3 without a part_count/],
        [latest({ partCount: 70_000 }), /part_count 70000 exceeds 65536/],
        [latest({ startMillis: Number.NaN }), /start_millis NaN must be before end_millis/],
        [latest({ startMillis: T0 + 1 }), /start_millis 1704067200001 must be before end_millis 1704067200001/],
      ];
      for (const [call, message] of refusedReads) {
        const error = await call;
        expect(typeof error === 'number' ? `${error} rows` : error.code, String(message)).toBe(status.INVALID_ARGUMENT);
        expect(typeof error === 'number' ? '' : error.details).toMatch(message);
      }

      const cases: [Promise<ServiceError | null | undefined>, RegExp][] = [
        [refresh({ endMillis: BigInt(T0) }), /end_millis must be after start_millis/],
        [refresh({ endMillis: BigInt(T0 + 32 * 86_400_000) }), /at most 2678400000 ms \(31 days\) later/],
        [
          refresh({ startMillis: -(2n ** 62n) }),
          /start_millis -4611686018427387904 must be an integer number of ms between/,
        ],
        [refresh({ dedupToken: "t' SETTINGS x=1" }), /dedup_token must be 1 to 128 characters/],
        [refresh({ dedupToken: '' }), /dedup_token must be 1 to 128 characters/],
        [refresh({ view: toWireView(view) }), /orders@1 is not an SQL view/],
        [events({ batchRows: 0 }), /batch_rows 0 must be between 1 and 20000/],
        [events({ batchRows: 20_001 }), /batch_rows 20001 must be between 1 and 20000/],
        [events({ partIndex: 4, partCount: 4 }), /part_index 4 must be below part_count 4/],
        [events({ partCount: 1_000_000 }), /part_count 1000000 exceeds 65536/],
        [events({ beforeGeneration: 0 }), /before_generation must be 1 or more/],
        [events({ view: toWireView(view) }), /EventRows of orders@1: not an event view/],
      ];
      for (const [call, message] of cases) {
        const error = await call;
        expect(error?.code, String(message)).toBe(status.INVALID_ARGUMENT);
        expect(error?.details).toMatch(message);
      }
    } finally {
      client.close();
    }
  });
});
