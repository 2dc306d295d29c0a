/**
 * On-demand features over window aggregations (docs/design/window-aggregations.md §5.2, increment
 * 11): the seeds' expressions `avg(reviews.last_5_ratings)` and `double(now - purchases.last_purchase_at)
 * / 86400000.0` give identical values online (`now` = the read's t, reported as the aggregated
 * inputs' event timestamp) and in GetHistorical at that t (`now` = the row's time); the same online on
 * the 6-node Redis Cluster.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fromColumn, toColumn } from '@tessera/client';
import { Durability, HistoricalFormat } from '@tessera/proto';
import type { GetHistoricalResponse, GetOnlineFeaturesResponse } from '@tessera/proto';
import { definitionsFromYaml } from '@tessera/testkit';
import { freshBackend, startTestServer, type TestServer } from '../support/server.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

const REPO = {
  'repo.yaml': `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
  - { name: product, join_keys: [product_id] }
feature_views:
  - name: purchases
    kind: events
    entities: [customer]
    features: [{ name: amount, type: double, min: 0 }]
    aggregations:
      - { name: revenue_30d, function: sum, input: amount, window: 30d }
      - { name: last_purchase_at, function: last_ts, window: unbounded }
  - name: reviews
    kind: events
    entities: [product]
    features: [{ name: rating, type: int64, min: 1, max: 5 }]
    aggregations:
      - { name: last_5_ratings, function: last_n, n: 5, input: rating, window: unbounded }
on_demand_views:
  - name: customer_now
    inputs: [purchases:last_purchase_at, purchases:revenue_30d]
    request: [{ name: cart_total, type: double }]
    features:
      - name: days_since_last_purchase
        type: double
        expr: double(now - purchases.last_purchase_at) / 86400000.0
      - name: cart_share_of_30d
        type: double
        expr: 'purchases.revenue_30d == 0.0 ? 0.0 : cart_total / purchases.revenue_30d'
  - name: product_now
    inputs: [reviews:last_5_ratings]
    features:
      - { name: avg_last_5_reviews, type: double, expr: 'avg(reviews.last_5_ratings)' }
`,
};

/** Customer 1 bought twice, 2 never; product "p1" has six ratings (the last five count), "p2" none. */
const CUSTOMERS = [1n, 2n];
const CART = [30, 5];
const PRODUCTS = ['p1', 'p2'];
const RATINGS = [1n, 5n, 4n, 3n, 5n, 4n];

/**
 * Live events (the default target) within the default 1 h lateness of the clock; `durability` sync
 * where GetHistorical reads them next (cluster mode here has no offline store: write-behind).
 */
async function writeEvents(t: TestServer, now: number, durability: Durability): Promise<number> {
  const lastPurchase = now - 10 * MINUTE;
  for (const [amount, ts] of [
    [40, now - 30 * MINUTE],
    [20, lastPurchase],
  ] as const) {
    await t.client.write({
      featureView: 'purchases',
      durability,
      columns: { customer_id: toColumn('int64', [1n]), amount: toColumn('double', [amount]) },
      eventTimestamps: toColumn('timestamp', [ts]),
    });
  }
  await t.client.write({
    featureView: 'reviews',
    durability,
    columns: {
      product_id: toColumn(
        'string',
        RATINGS.map(() => 'p1'),
      ),
      rating: toColumn('int64', RATINGS),
    },
    eventTimestamps: toColumn(
      'timestamp',
      RATINGS.map((_, i) => now - 40 * MINUTE + i * MINUTE),
    ),
  });
  return lastPurchase;
}

/** Reads both on-demand views online with the aggregated inputs, and checks the values against t. */
async function readChecked(t: TestServer, lastPurchase: number) {
  const customers = await t.client.getOnlineFeaturesRaw({
    features: ['customer_now:*', 'purchases:last_purchase_at'],
    entities: { customer_id: toColumn('int64', CUSTOMERS), cart_total: toColumn('double', CART) },
    includeEventTimestamps: true,
  });
  const products = await t.client.getOnlineFeaturesRaw({
    features: ['product_now:avg_last_5_reviews'],
    entities: { product_id: toColumn('string', PRODUCTS) },
  });
  const values = (r: GetOnlineFeaturesResponse) => r.features.map((f) => fromColumn(f.values!));
  const [days, share, last] = values(customers);
  // The read's t: the event timestamp of an aggregated feature (the same t for the whole view).
  const at = Number(customers.features[2]!.eventTimestamps[0]);
  expect(last).toEqual([lastPurchase, null]);
  expect(days).toEqual([(at - lastPurchase) / DAY, null]);
  expect(share).toEqual([0.5, 0]);
  // The five newest ratings 5, 4, 3, 5, 4 (the first, 1, is out); p2 has none: avg([]) is null.
  expect(values(products)).toEqual([[21 / 5, null]]);
  return { at, customers: [days, share], products: values(products)[0]! };
}

describe('on-demand features over window aggregations (embedded LMDB + chDB)', () => {
  let t: TestServer;
  let cleanup: () => void;
  let lastPurchase: number;

  beforeAll(async () => {
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend);
    await t.client.apply(definitionsFromYaml(REPO));
    lastPurchase = await writeEvents(t, Date.now(), Durability.DURABILITY_SYNC);
  }, 120_000);

  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    cleanup?.();
  });

  const historical = async (features: string[], keys: Record<string, ReturnType<typeof toColumn>>, at: number) => {
    const chunks: GetHistoricalResponse[] = [];
    const rows = Object.values(keys)[0]!;
    const count = fromColumn(rows).length;
    for await (const chunk of t.client.getHistorical({
      entities: {
        $case: 'rows',
        value: {
          keys: Object.fromEntries(Object.entries(keys).filter(([k]) => k !== 'cart_total')),
          eventTimestamps: new Array<bigint>(count).fill(BigInt(at)),
          passthrough: keys.cart_total === undefined ? {} : { cart_total: keys.cart_total },
        },
      },
      features,
      featureService: '',
      format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
      chunkRows: 1,
    }))
      chunks.push(chunk);
    const names = chunks[0]!.names;
    return (name: string) => chunks.flatMap((c) => fromColumn(c.columns[names.indexOf(name)]!));
  };

  it('gives the same values online (now = the read t) and in GetHistorical at that t (now = the row time)', async () => {
    const online = await readChecked(t, lastPurchase);
    const customers = await historical(
      ['customer_now:*'],
      { customer_id: toColumn('int64', CUSTOMERS), cart_total: toColumn('double', CART) },
      online.at,
    );
    expect([customers('customer_now__days_since_last_purchase'), customers('customer_now__cart_share_of_30d')]).toEqual(
      online.customers,
    );
    const products = await historical(
      ['product_now:avg_last_5_reviews'],
      { product_id: toColumn('string', PRODUCTS) },
      online.at,
    );
    expect(products('product_now__avg_last_5_reviews')).toEqual(online.products);
  });

  it('computes now from the row time offline: a day later, one more day since the last purchase', async () => {
    const online = await readChecked(t, lastPurchase);
    const later = await historical(
      ['customer_now:days_since_last_purchase'],
      { customer_id: toColumn('int64', [1n]), cart_total: toColumn('double', [1]) },
      online.at + DAY,
    );
    expect(later('customer_now__days_since_last_purchase')).toEqual([(online.at + DAY - lastPurchase) / DAY]);
  });
});

describe('on-demand features over window aggregations online on the 6-node Redis Cluster', () => {
  it('computes them from the cluster tiles at the read t', async () => {
    const fresh = freshBackend('redis-cluster', inject('redisCluster').nodes);
    await using t = await startTestServer(fresh.backend);
    await t.client.apply(definitionsFromYaml(REPO));
    const lastPurchase = await writeEvents(t, Date.now(), Durability.DURABILITY_WRITE_BEHIND);
    await readChecked(t, lastPurchase);
  }, 60_000);
});
