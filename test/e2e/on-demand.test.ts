/**
 * On-demand features (CEL) through a real server, embedded LMDB + chDB (docs/design/
 * window-aggregations.md §5.2, increment 8): apply refuses a bad expression naming it; online and
 * GetHistorical give identical values for the same entity rows at the same time — nulls, request
 * fields, `now`-based features, evaluate_nulls and evaluation errors (null, counted) included.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fromColumn, toColumn } from '@tessera/client';
import type { TesseraClientError } from '@tessera/client';
import { FeatureStatus, HistoricalFormat, ViewKind, WriteTarget } from '@tessera/proto';
import type { Column, GetHistoricalResponse } from '@tessera/proto';
import { definitionsFromYaml } from '@tessera/testkit';
import { scrape, sample } from '../support/scrape.js';
import { freshBackend, startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

const DAY = 86_400_000;
const CLI = join(import.meta.dirname, '..', '..', 'packages', 'cli', 'bin', 'tessera.js');

const BASE = `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: profile
    entities: [customer]
    features:
      - { name: last_purchase_at, type: timestamp }
      - { name: revenue_30d, type: double }
      - { name: orders, type: int64 }
      - { name: ratings, type: int64_list }
`;
const ON_DEMAND = `
on_demand_views:
  - name: customer_now
    inputs: [profile:last_purchase_at, profile:revenue_30d, profile:orders, profile:ratings]
    request: [{ name: cart_total, type: double }]
    features:
      - { name: age_ms, type: int64, expr: 'now - profile.last_purchase_at' }
      - { name: days_since_last_purchase, type: double, expr: 'double(now - profile.last_purchase_at) / 86400000.0' }
      - name: cart_share_of_30d
        type: double
        expr: 'profile.revenue_30d == 0.0 ? 0.0 : cart_total / profile.revenue_30d'
      - { name: avg_rating, type: double, expr: 'avg(profile.ratings)' }
      - { name: orders_or_zero, type: int64, expr: 'profile.orders == null ? 0 : profile.orders', evaluate_nulls: true }
`;
const FEATURES = ['age_ms', 'days_since_last_purchase', 'cart_share_of_30d', 'avg_rating', 'orders_or_zero'] as const;

/** Customers 1–3 written (3 with nulls, 2 with no ratings), 4 never. */
const IDS = [1n, 2n, 3n, 4n];
const CART = [25, 10, 5, null];

function profileRows(written: number, target?: WriteTarget) {
  return {
    featureView: 'profile',
    ...(target === undefined ? {} : { target }),
    columns: {
      customer_id: toColumn('int64', [1n, 2n, 3n]),
      last_purchase_at: toColumn('timestamp', [written - 2 * DAY, written - 5 * DAY, null]),
      revenue_30d: toColumn('double', [100, 0, null]),
      orders: toColumn('int64', [4n, 1n, null]),
      ratings: toColumn('int64_list', [BigInt64Array.from([5n, 4n, 4n]), new BigInt64Array(0), null]),
    },
    eventTimestamps: toColumn('timestamp', [written, written, written]),
  };
}

/** Reads customer_now:* online and checks every value; returns them and the read's time. */
async function readOnlineChecked(t: TestServer, written: number) {
  const online = await t.client.getOnlineFeaturesRaw({
    features: ['customer_now:*'],
    entities: { customer_id: toColumn('int64', IDS), cart_total: toColumn('double', CART) },
  });
  expect(online.features.map((f) => f.ref)).toEqual(FEATURES.map((f) => `customer_now@1:${f}`));
  expect(online.features.every((f) => f.statuses.every((s) => s === FeatureStatus.FEATURE_STATUS_PRESENT))).toBe(true);
  const values = online.features.map((f) => fromColumn(f.values!));
  const [age, days, share, avg, orders] = values;
  // The read's time, recovered exactly from customer 1's age.
  const now = written - 2 * DAY + Number(age![0]);
  expect(now).toBeGreaterThanOrEqual(written);
  expect(age).toEqual([BigInt(now - written + 2 * DAY), BigInt(now - written + 5 * DAY), null, null]);
  expect(days).toEqual([(now - written + 2 * DAY) / DAY, (now - written + 5 * DAY) / DAY, null, null]);
  expect(share).toEqual([0.25, 0, null, null]);
  // Customer 2 has no ratings: avg([]) is an evaluation error, answered as null.
  expect(avg).toEqual([13 / 3, null, null, null]);
  // evaluate_nulls: a null input (customer 3) and no row (customer 4) reach the expression.
  expect(orders).toEqual([4n, 1n, 0n, 0n]);
  return { values, now };
}

describe('on-demand features through a real server (embedded LMDB + chDB)', () => {
  let t: TestServer;
  let cleanup: () => void;
  let dir: string;
  const written = Date.now() - 3 * DAY;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-on-demand-'));
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend, { metrics: { port: 0 } });
    await t.client.apply(definitionsFromYaml({ 'repo.yaml': BASE + ON_DEMAND }));
    await t.client.write(profileRows(written));
  }, 120_000);

  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    cleanup?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers the view with its expressions (Registry.Get)', async () => {
    const got = (await t.client.get('feature_view', 'customer_now')).object;
    const view = got?.$case === 'featureView' ? got.value : undefined;
    expect(view?.kind).toBe(ViewKind.VIEW_KIND_ON_DEMAND);
    expect(view?.features).toEqual([]);
    expect(view?.inputs).toEqual([
      'profile:last_purchase_at',
      'profile:revenue_30d',
      'profile:orders',
      'profile:ratings',
    ]);
    expect(view?.onDemand.map((f) => [f.name, f.expression, f.evaluateNulls])[4]).toEqual([
      'orders_or_zero',
      'profile.orders == null ? 0 : profile.orders',
      true,
    ]);
  });

  it('refuses a bad expression at apply naming the view, the feature, the path and the types', async () => {
    // Checked by the server too, not only by the CLI: send a definition the local check would refuse.
    const good = definitionsFromYaml({ 'repo.yaml': BASE + ON_DEMAND });
    const bad = {
      ...good,
      featureViews: good.featureViews.map((v) =>
        v.onDemand === undefined
          ? v
          : {
              ...v,
              onDemand: {
                ...v.onDemand,
                expressions: v.onDemand.expressions.map((e, i) =>
                  i === 3 ? { ...e, expression: 'size(profile.ratings)' } : e,
                ),
              },
            },
      ),
    };
    const error = (await t.client.apply(bad).then(
      () => undefined,
      (e: unknown) => e,
    )) as TesseraClientError | undefined;
    expect(error?.grpcCodeName).toBe('INVALID_ARGUMENT');
    expect(error?.message).toContain(
      'on-demand view customer_now, feature avg_rating: the expression is int, the feature is double (CEL double) — use double(…)',
    );
  });

  it('tessera apply names a bad expression with file, path and line; tessera ls shows the expressions', async () => {
    const tessera = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile('node', [CLI, '--server', t.server.address, ...args], { cwd: dir }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
        );
      });
    writeFileSync(
      join(dir, 'repo.yaml'),
      BASE + ON_DEMAND.replace("expr: 'avg(profile.ratings)'", "expr: 'avg(profile.nope)'"),
    );
    const bad = await tessera('apply', dir);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(
      'repo.yaml: on_demand_views[0].features[3].expr: on-demand view customer_now, feature avg_rating: No such key: nope (at column 13) (line 24)',
    );
    const ls = await tessera('ls', 'features');
    expect(ls.stdout).toMatch(
      /customer_now:days_since_last_purchase\s+double\s+\[= double\(now - profile.last_purchase_at\) \/ 86400000.0\]/,
    );
  });

  it('gives identical values online and in GetHistorical for the same rows at the same time', async () => {
    const errors = async () =>
      sample(await scrape(t.server.metricsPort!), 'tessera_on_demand_errors_total', {
        view: 'customer_now',
        feature: 'avg_rating',
      });
    const errorsBefore = await errors();
    const { values, now } = await readOnlineChecked(t, written);

    const chunks: GetHistoricalResponse[] = [];
    for await (const chunk of t.client.getHistorical({
      entities: {
        $case: 'rows',
        value: {
          keys: { customer_id: toColumn('int64', IDS) },
          eventTimestamps: IDS.map(() => BigInt(now)),
          passthrough: { cart_total: toColumn('double', CART) },
        },
      },
      features: ['customer_now:*'],
      featureService: '',
      format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
      chunkRows: 3,
    }))
      chunks.push(chunk);
    const names = chunks[0]!.names;
    expect(names).toEqual(['customer_id', 'event_ts', 'cart_total', ...FEATURES.map((f) => `customer_now__${f}`)]);
    const offline = FEATURES.map((f) =>
      chunks.flatMap((c) => fromColumn(c.columns[names.indexOf(`customer_now__${f}`)] as Column)),
    );
    expect(offline).toEqual(values);
    // avg([]) of customer 2, once online and once offline.
    expect((await errors()) - errorsBefore).toBe(2);

    // The same rows as Arrow (the client's training-set table): the same values.
    const table = await t.client.getHistoricalFeatures(
      {
        keys: { customer_id: IDS },
        eventTimestamps: IDS.map(() => now),
        passthrough: { cart_total: toColumn('double', CART) },
      },
      ['customer_now:*'],
      { chunkRows: 3 },
    );
    expect(table.schema.fields.map((f) => f.name)).toEqual(names);
    const arrow = FEATURES.map((f) => {
      const vector = table.getChild(`customer_now__${f}`)!;
      return IDS.map((_, row) => vector.get(row) as unknown);
    });
    expect(arrow).toEqual(values);
  });

  it('reads the inputs it needs without returning them, next to requested stored features', async () => {
    const got = await t.client.getOnlineFeaturesRaw({
      features: ['profile:orders', 'customer_now:cart_share_of_30d'],
      entities: { customer_id: toColumn('int64', [1n]), cart_total: toColumn('double', [50]) },
    });
    expect(got.features.map((f) => f.ref)).toEqual(['profile@1:orders', 'customer_now@1:cart_share_of_30d']);
    expect(got.features.map((f) => fromColumn(f.values!))).toEqual([[4n], [0.5]]);
  });

  it('refuses a missing request field and a write, naming what is wrong', async () => {
    const refused = (call: Promise<unknown>) =>
      call.then(
        () => undefined,
        (e: unknown) => e as TesseraClientError,
      );
    const missing = await refused(
      t.client.getOnlineFeaturesRaw({
        features: ['customer_now:cart_share_of_30d'],
        entities: { customer_id: toColumn('int64', [1n]) },
      }),
    );
    expect(missing?.grpcCodeName).toBe('INVALID_ARGUMENT');
    expect(missing?.message).toContain('request field cart_total (double, read by an on-demand feature) is missing');
    const offlineMissing = await refused(
      t.client.getHistoricalFeatures({ keys: { customer_id: [1n] }, eventTimestamps: [Date.now()] }, [
        'customer_now:cart_share_of_30d',
      ]),
    );
    expect(offlineMissing?.grpcCodeName).toBe('INVALID_ARGUMENT');
    expect(offlineMissing?.message).toContain(
      'GetHistorical: request field cart_total (double, read by an on-demand feature) is missing; add it to the passthrough columns',
    );
    const write = await refused(
      t.client.write({
        featureView: 'customer_now',
        columns: { customer_id: toColumn('int64', [1n]) },
        eventTimestamps: toColumn('timestamp', [Date.now()]),
      }),
    );
    expect(write?.grpcCodeName).toBe('FAILED_PRECONDITION');
    expect(write?.message).toContain('customer_now is an on-demand view');
  });
});

describe('on-demand features online on the 6-node Redis Cluster', () => {
  it('computes the same values from the cluster store', async () => {
    const fresh = freshBackend('redis-cluster', inject('redisCluster').nodes);
    await using t = await startTestServer(fresh.backend);
    await t.client.apply(definitionsFromYaml({ 'repo.yaml': BASE + ON_DEMAND }));
    const written = Date.now() - 3 * DAY;
    await t.client.write(profileRows(written, WriteTarget.WRITE_TARGET_ONLINE));
    await readOnlineChecked(t, written);
  }, 60_000);
});
