/**
 * Window aggregations in GetHistorical through a real `tessera serve` (embedded: LMDB + chDB,
 * docs/design/window-aggregations.md §4.2, increment 4): events written with Write (live and
 * history, a replayed Write, a late event that must not count, events of one millisecond in
 * separate Writes), then training sets over inline rows (columns and Arrow), an entity SELECT and
 * a view entity set, next to plain and on-demand features, with empty windows for an entity with
 * no events; and a grouped aggregation (§1.8) over inline rows, an entity SELECT and online, with an
 * on-demand feature over it. The brute-force oracle over random streams is
 * packages/offline/test/historical-aggregations.test.ts.
 */
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromColumn, toColumn } from '@tessera/client';
import { Durability, HistoricalFormat, WriteTarget } from '@tessera/proto';
import type { GetHistoricalRequest, GetHistoricalResponse } from '@tessera/proto';
import { definitionsFromYaml } from '@tessera/testkit';
import { freshBackend, startTestServer, type TestServer } from '../support/server.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const REPO = {
  'repo.yaml': `
project: agg
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: purchases
    kind: events
    entities: [customer]
    allowed_lateness: 2h
    features:
      - { name: amount, type: double }
      - { name: product, type: string }
      - { name: category, type: string, not_null: true }
    aggregations:
      - { name: purchases_1h, function: count, window: 1h }
      - { name: revenue_30d, function: sum, input: amount, window: 30d }
      - { name: avg_order_30d, function: mean, input: amount, window: 30d }
      - { name: products_30d, function: approx_distinct, input: product, window: 30d }
      - { name: last_purchase_at, function: last_ts, window: unbounded }
      - { name: last_3_amounts, function: last_n, n: 3, input: amount, window: unbounded }
      - { name: last_product, function: last, input: product, window: 7d }
      - { name: revenue_by_category_30d, function: sum, input: amount, window: 30d, group_by: category }
on_demand_views:
  - name: purchase_now
    inputs: [purchases:amount]
    features:
      - { name: doubled, type: double, expr: 'purchases.amount * 2.0' }
  - name: category_share
    inputs: [purchases:revenue_by_category_30d, purchases:revenue_30d]
    request: [{ name: category, type: string }]
    features:
      - name: share
        type: double
        expr: 'purchases.revenue_30d == 0.0 ? 0.0 : purchases.revenue_by_category_30d / purchases.revenue_30d'
`,
};

/** The moment of the requests: every live event but the late one is within the 2 h lateness of the clock. */
const NOW = Date.now();
/** `start(t)` of the 1h/5m window at NOW: events at or after it count in purchases_1h. */
const START_1H = NOW - HOUR - ((((NOW - HOUR) % (5 * MINUTE)) + 5 * MINUTE) % (5 * MINUTE));

/** Rows (customer, ts, amount, product, category); category defaults to books. */
function purchases(rows: readonly (readonly [bigint, number, number | null, string, string?])[], target?: WriteTarget) {
  return {
    featureView: 'purchases',
    durability: Durability.DURABILITY_SYNC,
    ...(target === undefined ? {} : { target }),
    columns: {
      customer_id: toColumn(
        'int64',
        rows.map((r) => r[0]),
      ),
      amount: toColumn(
        'double',
        rows.map((r) => r[2]),
      ),
      product: toColumn(
        'string',
        rows.map((r) => r[3]),
      ),
      category: toColumn(
        'string',
        rows.map((r) => r[4] ?? 'books'),
      ),
    },
    eventTimestamps: toColumn(
      'timestamp',
      rows.map((r) => r[1]),
    ),
  };
}

const FEATURES = [
  'purchases:amount',
  'purchases:purchases_1h',
  'purchase_now:doubled',
  'purchases:revenue_30d',
  'purchases:avg_order_30d',
  'purchases:products_30d',
  'purchases:last_purchase_at',
  'purchases:last_3_amounts',
  'purchases:last_product',
];

/** Entity rows: customer 1 now and 40 days later, customer 2 now, customer 3 (never written) now. */
const ROWS: readonly (readonly [bigint, number])[] = [
  [1n, NOW],
  [2n, NOW],
  [3n, NOW],
  [1n, NOW + 40 * DAY],
];

/**
 * What every aggregation must be at those rows (from the writes in beforeAll). The two events of one
 * millisecond (amounts 1 and 5) are ordered by their fingerprints in last_3_amounts: `tieFree` sorts them.
 */
const EXPECTED: Record<string, unknown[]> = {
  purchases__amount: [5, 7, null, 5],
  purchases__purchases_1h: [4n, 1n, 0n, 0n],
  purchase_now__doubled: [10, 14, null, 10],
  purchases__revenue_30d: [100 + 20 + 5 + 1, 7, 0, 0],
  purchases__avg_order_30d: [126 / 4, 7, null, null],
  purchases__products_30d: [3n, 1n, 0n, 0n],
  purchases__last_purchase_at: [NOW - 1_000, NOW - 2 * MINUTE, null, NOW - 1_000],
  purchases__last_3_amounts: [[5, 1, 20], [7], [], [5, 1, 20]],
  purchases__last_product: ['c', 'z', null, null],
};

describe('window aggregations in GetHistorical through a real server (embedded chDB)', () => {
  let t: TestServer;
  let cleanup: () => void;

  beforeAll(async () => {
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend);
    await t.client.apply(definitionsFromYaml(REPO));
    // History (offline only, always eligible): 20 days ago, and 40 days ago (outside 30 d).
    await t.client.write(
      purchases(
        [
          [1n, NOW - 20 * DAY, 100, 'a'],
          [1n, NOW - 40 * DAY, 1000, 'old'],
        ],
        WriteTarget.WRITE_TARGET_OFFLINE,
      ),
    );
    // Live, twice (a replay: the same events, counted once); a null amount counts in count only.
    const live = purchases([
      [1n, NOW - 30 * MINUTE, 20, 'b', 'toys'],
      [1n, START_1H - 1, null, 'b', 'toys'],
      [2n, NOW - 2 * MINUTE, 7, 'z'],
    ]);
    await t.client.write(live);
    await t.client.write(live);
    // Two events of customer 1 in one millisecond, in separate Writes (a Write refuses two rows of one
    // entity at one event time); and one at start(t) of the 1 h window exactly.
    await t.client.write(purchases([[1n, NOW - 1_000, 1, 'c']]));
    await t.client.write(purchases([[1n, NOW - 1_000, 5, 'c', 'toys']]));
    await t.client.write(purchases([[1n, START_1H, null, 'c']]));
    // Late (older than the 2 h lateness at acceptance): kept for the plain feature, never aggregated.
    const late = await t.client.write(purchases([[1n, NOW - 3 * HOUR, 999, 'late', 'toys']]));
    expect(late.rowsExcludedLate).toBe(1n);
  }, 120_000);

  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    cleanup?.();
  });

  const request = (
    format: HistoricalFormat,
    entities: GetHistoricalRequest['entities'] = {
      $case: 'rows',
      value: {
        keys: {
          customer_id: toColumn(
            'int64',
            ROWS.map((r) => r[0]),
          ),
        },
        eventTimestamps: ROWS.map((r) => BigInt(r[1])),
        passthrough: {},
      },
    },
  ): GetHistoricalRequest => ({ entities, features: FEATURES, featureService: '', format, chunkRows: 3 });

  const tieFree = (name: string, values: unknown[] | undefined): unknown[] | undefined =>
    name !== 'purchases__last_3_amounts'
      ? values
      : values?.map((v) => {
          const list = v as number[];
          return list.length === 3 ? [...list.slice(0, 2).sort((a, b) => b - a), list[2]] : list;
        });

  const columnsOf = async (req: GetHistoricalRequest): Promise<Map<string, unknown[]>> => {
    const chunks: GetHistoricalResponse[] = [];
    for await (const chunk of t.client.getHistorical(req)) chunks.push(chunk);
    const names = chunks[0]?.names ?? [];
    return new Map(
      names.map((name, i) => [
        name,
        chunks
          .flatMap((c) => fromColumn(c.columns[i]!))
          .map((v) => (ArrayBuffer.isView(v) ? [...(v as Float64Array)] : v)),
      ]),
    );
  };

  it('computes each window at each row from the written events (columns)', async () => {
    const got = await columnsOf(request(HistoricalFormat.HISTORICAL_FORMAT_COLUMNS));
    // Entity columns, then per view its plain features, then its aggregations; on-demand in request order.
    expect([...got.keys()]).toEqual([
      'customer_id',
      'event_ts',
      'purchases__amount',
      'purchases__purchases_1h',
      'purchase_now__doubled',
      'purchases__revenue_30d',
      'purchases__avg_order_30d',
      'purchases__products_30d',
      'purchases__last_purchase_at',
      'purchases__last_3_amounts',
      'purchases__last_product',
    ]);
    for (const [name, values] of Object.entries(EXPECTED))
      expect([name, tieFree(name, got.get(name))]).toEqual([name, values]);
  });

  it('streams the same values as Arrow IPC', async () => {
    const chunks: GetHistoricalResponse[] = [];
    for await (const chunk of t.client.getHistorical(request(HistoricalFormat.HISTORICAL_FORMAT_ARROW)))
      chunks.push(chunk);
    const rows = chunks.flatMap((c) =>
      tableFromIPC(c.arrowIpc)
        .toArray()
        .map((r: { toJSON(): Record<string, unknown> }) => r.toJSON()),
    );
    const column = (name: string) =>
      rows.map((r) => {
        const v = r[name];
        return v !== null && typeof v === 'object' && 'toArray' in v
          ? [...(v as { toArray(): Float64Array }).toArray()]
          : v;
      });
    for (const [name, values] of Object.entries(EXPECTED))
      expect([name, tieFree(name, column(name))]).toEqual([name, values]);
  });

  it('serves them for an entity SELECT and a view entity set', async () => {
    const sql = await columnsOf(
      request(HistoricalFormat.HISTORICAL_FORMAT_COLUMNS, {
        $case: 'entitySql',
        value: `SELECT toInt64(number + 1) AS customer_id, fromUnixTimestamp64Milli(toInt64(${NOW}), 'UTC') AS event_ts FROM numbers(3)`,
      }),
    );
    for (const [name, values] of Object.entries(EXPECTED))
      expect([name, tieFree(name, sql.get(name))]).toEqual([name, values.slice(0, 3)]);
    // The view's entities (customers 1 and 2) on a grid of two points, NOW − 40 d and NOW.
    const spine = await columnsOf(
      request(HistoricalFormat.HISTORICAL_FORMAT_COLUMNS, {
        $case: 'viewEntities',
        value: {
          featureView: 'purchases',
          startTime: BigInt(NOW - 40 * DAY),
          endTime: BigInt(NOW + 1),
          hopMillis: BigInt(40 * DAY),
        },
      }),
    );
    const got = (spine.get('customer_id') ?? []).map((id, i) => [
      id,
      spine.get('event_ts')?.[i],
      spine.get('purchases__revenue_30d')?.[i],
      spine.get('purchases__purchases_1h')?.[i],
    ]);
    expect(got).toEqual([
      [1n, NOW - 40 * DAY, 1000, 1n], // the 40-day-old event is at that row's time: counted
      [1n, NOW, 126, 4n],
      [2n, NOW - 40 * DAY, 0, 0n],
      [2n, NOW, 7, 1n],
    ]);
  });

  it('serves a grouped aggregation from the group column of the entity rows (inline and SQL) and online', async () => {
    // Customer 1: books 100 (20 d ago) + 1; toys 20 + 5 (the late 999 never counts); customer 2: books 7.
    const rows: readonly (readonly [bigint, number, string])[] = [
      [1n, NOW, 'books'],
      [1n, NOW, 'toys'],
      [2n, NOW, 'books'],
      [2n, NOW, 'toys'],
      [3n, NOW, 'books'],
      [1n, NOW + 40 * DAY, 'books'],
    ];
    const grouped = (entities: GetHistoricalRequest['entities']): GetHistoricalRequest => ({
      entities,
      features: ['purchases:revenue_by_category_30d', 'purchases:revenue_30d'],
      featureService: '',
      format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
      chunkRows: 4,
    });
    const inline = await columnsOf(
      grouped({
        $case: 'rows',
        value: {
          keys: {
            customer_id: toColumn(
              'int64',
              rows.map((r) => r[0]),
            ),
          },
          eventTimestamps: rows.map((r) => BigInt(r[1])),
          passthrough: {
            category: toColumn(
              'string',
              rows.map((r) => r[2]),
            ),
          },
        },
      }),
    );
    expect([...inline.keys()]).toEqual([
      'customer_id',
      'event_ts',
      'category',
      'purchases__revenue_by_category_30d',
      'purchases__revenue_30d',
    ]);
    expect(inline.get('purchases__revenue_by_category_30d')).toEqual([101, 25, 7, 0, 0, 0]);
    expect(inline.get('purchases__revenue_30d')).toEqual([126, 126, 7, 7, 0, 0]);
    const sql = await columnsOf(
      grouped({
        $case: 'entitySql',
        value: `SELECT toInt64(1) AS customer_id, fromUnixTimestamp64Milli(toInt64(${NOW}), 'UTC') AS event_ts, arrayJoin(['toys', 'books', 'games']) AS category`,
      }),
    );
    expect(sql.get('purchases__revenue_by_category_30d')).toEqual([25, 101, 0]);
    // Rows without the group column (a view entity set has only keys and times) are refused, naming it.
    const spine = grouped({
      $case: 'viewEntities',
      value: {
        featureView: 'purchases',
        startTime: BigInt(NOW - DAY),
        endTime: BigInt(NOW + 1),
        hopMillis: BigInt(DAY),
      },
    });
    await expect(columnsOf(spine)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('entity rows lack the column "category"') as unknown,
    });
    // Online: the group column is one more entity column; live events only (history reaches tiles by a rebuild).
    const served = await t.client.getOnlineFeaturesRaw({
      features: ['purchases:revenue_by_category_30d'],
      entities: {
        customer_id: toColumn('int64', [1n, 1n, 2n, 2n, 3n]),
        category: toColumn('string', ['books', 'toys', 'books', 'toys', 'books']),
      },
    });
    expect(fromColumn(served.features[0]!.values!)).toEqual([1, 25, 7, 0, 0]);
    await expect(
      t.client.getOnlineFeaturesRaw({
        features: ['purchases:revenue_by_category_30d'],
        entities: { customer_id: toColumn('int64', [1n]) },
      }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('group column category (string) is missing') as unknown,
    });
    const online = await t.client.getOnlineFeaturesRaw({
      features: ['purchases:revenue_30d'],
      entities: { customer_id: toColumn('int64', [1n, 2n]) },
    });
    // A group value kept online is bounded: a longer one refuses the live Write whole, by row and column.
    await expect(t.client.write(purchases([[2n, NOW - MINUTE, 3, 'p', 'x'.repeat(300)]]))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('row 0, column category: a group value encodes to 301 bytes') as unknown,
    });
    // Online holds the live events only (the history write reaches tiles through a rebuild): 20 + 1 + 5.
    expect(fromColumn(online.features[0]!.values!)).toEqual([26, 7]);
    // On-demand over a grouped input: `category` is a request field and the group column at once.
    const share = await t.client.getOnlineFeaturesRaw({
      features: ['category_share:share'],
      entities: { customer_id: toColumn('int64', [1n, 3n]), category: toColumn('string', ['toys', 'books']) },
    });
    expect(fromColumn(share.features[0]!.values!)).toEqual([25 / 26, 0]);
    const offlineShare = await columnsOf({
      ...grouped({
        $case: 'rows',
        value: {
          keys: { customer_id: toColumn('int64', [1n, 3n]) },
          eventTimestamps: [BigInt(NOW), BigInt(NOW)],
          passthrough: { category: toColumn('string', ['toys', 'books']) },
        },
      }),
      features: ['category_share:share'],
    });
    expect(offlineShare.get('category_share__share')).toEqual([25 / 126, 0]);
    // A tile rebuild (materialize --aggregations) brings the history into the ungrouped windows and
    // into the grouped ones (the group fields are rebuilt per (entity, category) too): online = offline.
    const finals = await t.client.materialize({ featureViews: ['purchases'], aggregations: true });
    expect(finals[0]).toMatchObject({ featureView: 'purchases@1', done: true });
    const rebuilt = await t.client.getOnlineFeaturesRaw({
      features: ['purchases:revenue_30d', 'purchases:revenue_by_category_30d'],
      entities: {
        customer_id: toColumn('int64', [1n, 1n, 2n]),
        category: toColumn('string', ['books', 'toys', 'books']),
      },
    });
    expect(rebuilt.features.map((f) => fromColumn(f.values!))).toEqual([
      [126, 126, 7],
      [101, 25, 7],
    ]);
  });
});
