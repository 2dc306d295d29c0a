/**
 * SQL views on real engines (chDB offline, LMDB online and state; design §5.1, increment 9): the
 * apply-time check names each bad SELECT's problem; a scheduled refresh (the embedded timer, on an
 * injected clock) and a backfill compute the rows offline by the view's SELECT and copy them online,
 * and the values online equal the offline rows and the sums computed here from the raw events.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeRow,
  emptyRegistryState,
  entityKey,
  latestView,
  parseRepository,
  planApply,
  readRowEventTs,
  viewField,
  type Definitions,
  type RegisteredView,
} from '@tessera/core';
import { ChdbExecutor, ClickHouseOfflineStore } from '@tessera/offline';
import { LmdbMaterializeState, LmdbOnlineStore } from '@tessera/online';
import {
  SqlViewTimer,
  backfillSqlView,
  readersLast,
  refreshStateKey,
  type SqlViewBackfillProgress,
} from '../src/index.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 1);
const CATEGORIES = ['books', 'toys', 'games'] as const;

const REPO = `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
  - { name: category, join_keys: [category] }
feature_views:
  - name: purchases
    entities: [customer]
    features:
      - { name: amount, type: double }
      - { name: category, type: string }
sql_views:
  - name: category_daily_revenue
    entities: [category]
    sql: |
      SELECT assumeNotNull(category) AS category, toStartOfDay(event_ts) AS event_ts, sum(amount) AS revenue, count() AS orders
      FROM {{ purchases }}
      WHERE event_ts >= {start:DateTime64(3)} AND event_ts < {end:DateTime64(3)} AND category IS NOT NULL
      GROUP BY category, event_ts
    schedule: { every: 1d, delay: 1h }
    features: [{ name: revenue, type: double }, { name: orders, type: int64 }]
`;

function plan(text: string): Map<string, RegisteredView> {
  const parsed = parseRepository([{ path: 'repo.yaml', text }]);
  expect(parsed.problems).toEqual([]);
  const next = planApply(emptyRegistryState(), parsed.definitions as Definitions, { nowMillis: 0 }).next;
  return new Map(['purchases', 'category_daily_revenue'].map((n) => [n, latestView(next, n) as RegisteredView]));
}

/** Purchases over four days: a deterministic mix of categories and amounts, some on day boundaries. */
const EVENTS = Array.from({ length: 120 }, (_, i) => ({
  customer: BigInt(i % 7),
  ts: T0 + Math.floor((i * 4 * DAY) / 120) + (i % 5 === 0 ? 0 : 1_234),
  amount: (i % 9) + 0.25,
  category: CATEGORIES[i % 3] as string,
}));

/** The revenue and orders of each category on the day starting at `day`, from the raw events. */
function expected(day: number): Map<string, { revenue: number; orders: bigint }> {
  const out = new Map<string, { revenue: number; orders: bigint }>();
  for (const e of EVENTS) {
    if (e.ts < day || e.ts >= day + DAY) continue;
    const at = out.get(e.category) ?? { revenue: 0, orders: 0n };
    out.set(e.category, { revenue: at.revenue + e.amount, orders: at.orders + 1n });
  }
  return out;
}

let dir: string;
let offline: ClickHouseOfflineStore;
let online: LmdbOnlineStore;
let state: LmdbMaterializeState;
const views = plan(REPO);
const purchases = views.get('purchases') as RegisteredView;
const daily = views.get('category_daily_revenue') as RegisteredView;

async function onlineRow(v: RegisteredView, category: string) {
  const [[row]] = (await online.read([
    { key: entityKey(v.entities, [category]), fields: [viewField(v.id, v.version)] },
  ])) as [[Uint8Array | null]];
  if (row === null) return null;
  const [revenue, orders] = decodeRow(['double', 'int64'], row, [0, 1]);
  return { eventTs: readRowEventTs(row), revenue, orders };
}

/** The stored offline rows of the SQL view with event time `day` (latest per key). */
async function offlineRows(day: number) {
  const rows = new Map<string, { eventTs: number; revenue: unknown; orders: unknown }>();
  for await (const batch of offline.latestRows(daily, { startMillis: day, endMillis: day + 1, batchRows: 100 })) {
    for (const row of batch) {
      rows.set(row.keys[0] as string, {
        eventTs: row.eventTsMillis,
        revenue: row.features[0],
        orders: row.features[1],
      });
    }
  }
  return rows;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-sql-view-'));
  offline = await ClickHouseOfflineStore.open({
    executor: ChdbExecutor.open({ path: join(dir, 'chdb') }),
    database: 'sql_view_test',
  });
  await offline.ensureTables([purchases, daily]);
  online = new LmdbOnlineStore({ path: join(dir, 'online'), sweepIntervalMillis: 0 });
  state = new LmdbMaterializeState(online);
  await offline.insert(purchases, {
    joinKeyValues: EVENTS.map((e) => [e.customer]),
    eventTsMillis: Float64Array.from(EVENTS.map((e) => e.ts)),
    featureValues: [EVENTS.map((e) => e.amount), EVENTS.map((e) => e.category)],
  });
}, 120_000);

afterAll(async () => {
  await online?.close();
  await offline?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the apply-time check of an SQL view', () => {
  const variant = (from: string, to: string): RegisteredView => {
    const view = plan(REPO.replace(from, to)).get('category_daily_revenue') as RegisteredView;
    return view;
  };
  const check = (view: RegisteredView) => offline.checkSqlView(view, [purchases]);

  it('accepts the view as declared', async () => {
    await expect(check(daily)).resolves.toBeUndefined();
  });

  it('refuses several statements', async () => {
    await expect(
      check(variant('GROUP BY category, event_ts', 'GROUP BY category, event_ts; SELECT 1')),
    ).rejects.toThrow(
      /SQL view category_daily_revenue: sql exactly one SELECT statement is allowed \(found more than one\)/,
    );
  });

  it('refuses a table not named through a placeholder, and one outside the offline database', async () => {
    await expect(
      check(
        variant(
          'AND category IS NOT NULL',
          'AND category IN (SELECT category FROM sql_view_test.fv_category_daily_revenue__v1)',
        ),
      ),
    ).rejects.toThrow(
      /SQL view category_daily_revenue: sql table sql_view_test\.fv_category_daily_revenue__v1 is not read through a placeholder: name every view the SQL reads as \{\{ view \}\}/,
    );
    await expect(
      check(variant('AND category IS NOT NULL', 'AND category IN (SELECT name FROM system.tables)')),
    ).rejects.toThrow(/table system\.tables is not allowed: read only tables of the offline database/);
  });

  it('names a column of the wrong type with the fix, a missing column and an extra one', async () => {
    await expect(check(variant('sum(amount) AS revenue', 'sum(toDecimal64(amount, 2)) AS revenue'))).rejects.toThrow(
      /SQL view category_daily_revenue: column revenue is Nullable\(Decimal\(38, 2\)\), feature revenue is double: wrap it in toFloat64\(…\)/,
    );
    await expect(check(variant(', count() AS orders', ''))).rejects.toThrow(
      /column orders \(feature int64\) is missing from the SELECT's output; return it, e.g. … AS orders/,
    );
    await expect(check(variant('count() AS orders', 'count() AS orders, max(amount) AS top'))).rejects.toThrow(
      /column top is not a join key, event_ts or feature of the view; remove it from the SELECT or declare it as a feature/,
    );
    await expect(check(variant('assumeNotNull(category) AS category', 'category'))).rejects.toThrow(
      /column category is Nullable\(String\), join key category is string: it may be NULL, and a join key may not: filter NULLs out and wrap it in assumeNotNull\(…\)/,
    );
  });
});

describe('computing an SQL view', () => {
  it('refreshes the due interval on schedule, and the values online equal the offline rows and the raw sums', async () => {
    // Day 2 (T0 + 1d) is due one hour after it ends.
    let now = T0 + 2 * DAY + HOUR + 5_000;
    const timer = new SqlViewTimer({ offline, online, state, views: () => [daily], nowMillis: () => now });
    const first = await timer.pass();
    expect(first).toEqual([
      {
        view: 'category_daily_revenue@1',
        refreshed: [{ startMillis: T0 + DAY, endMillis: T0 + 2 * DAY }],
        rowsWritten: 3,
      },
    ]);
    await expectDay(T0 + DAY);
    // Before the next day is due (delay): nothing to do.
    now = T0 + 3 * DAY + HOUR - 1;
    expect((await timer.pass())[0]?.refreshed).toEqual([]);
    // Two days later: both days are refreshed, in order; state records the last end.
    now = T0 + 4 * DAY + HOUR;
    expect((await timer.pass())[0]?.refreshed).toEqual([
      { startMillis: T0 + 2 * DAY, endMillis: T0 + 3 * DAY },
      { startMillis: T0 + 3 * DAY, endMillis: T0 + 4 * DAY },
    ]);
    expect(await state.get(refreshStateKey(daily))).toBe(T0 + 4 * DAY);
    await expectDay(T0 + 3 * DAY);
    await timer.close();
  });

  it('backfills day by day with progress, resumes after the last whole day, and copies the range online', async () => {
    const run = async (signal?: AbortSignal) => {
      const seen: SqlViewBackfillProgress[] = [];
      for await (const p of backfillSqlView({
        offline,
        online,
        state,
        view: daily,
        startMillis: T0,
        endMillis: T0 + 4 * DAY,
        ...(signal === undefined ? {} : { signal }),
      })) {
        seen.push(p);
        if (signal !== undefined && p.daysDone === 2) break;
      }
      return seen;
    };
    // Interrupted after two days ...
    const first = await run(new AbortController().signal);
    expect(first.map((p) => p.daysDone)).toEqual([0, 1, 2]);
    // ... resumed: days 3 and 4 only, then the online copy of the whole range.
    const second = await run();
    expect(second.filter((p) => p.phase === 'offline').map((p) => p.daysDone)).toEqual([2, 3, 4]);
    expect(second.at(-1)).toMatchObject({ phase: 'online', done: true, daysDone: 4, daysTotal: 4 });
    for (let day = 0; day < 4; day++) expect((await offlineRows(T0 + day * DAY)).size).toBe(3);
    // Online holds each category's latest day: day 4.
    await expectDay(T0 + 3 * DAY);
  });
});

/** The offline rows of `day` equal the raw sums, and online equals offline for each category. */
async function expectDay(day: number): Promise<void> {
  const rows = await offlineRows(day);
  const sums = expected(day);
  expect([...rows.keys()].sort()).toEqual([...sums.keys()].sort());
  for (const [category, sum] of sums) {
    const row = rows.get(category);
    expect(row?.eventTs).toBe(day);
    expect(row?.revenue).toBeCloseTo(sum.revenue, 9);
    expect(row?.orders).toBe(sum.orders);
    expect(await onlineRow(daily, category)).toEqual({ eventTs: day, revenue: row?.revenue, orders: row?.orders });
  }
}

describe('readersLast', () => {
  it('orders SQL views after the SQL views they read', () => {
    const reading = (name: string, reads: string[]): RegisteredView => ({
      ...daily,
      name,
      sql: { ...daily.sql!, reads },
    });
    const a = reading('a', ['purchases@1']);
    const b = reading('b', ['c@1']);
    const c = reading('c', ['a@1']);
    expect(readersLast([b, c, a]).map((v) => v.name)).toEqual(['a', 'c', 'b']);
  });
});
