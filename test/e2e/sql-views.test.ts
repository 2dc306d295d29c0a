/**
 * SQL views through a real server (docs/design/window-aggregations.md §5.1, increment 9), embedded
 * LMDB + chDB: Apply refuses a bad SELECT naming the problem (several statements, a table not named
 * through a placeholder, a column of the wrong type, a missing column); Get and History show the
 * lineage; a backfill (Materialize of the SQL view) computes its rows by day, and the values online
 * equal GetHistorical's and the sums of the raw events. A cluster-mode server without an offline
 * store refuses an SQL view with UNAVAILABLE naming it. The CLI names a bad placeholder with file, path
 * and line, and `tessera ls` shows the lineage.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fromColumn, toColumn } from '@tessera/client';
import type { TesseraClientError } from '@tessera/client';
import { ChangeKind, Durability, FeatureStatus, HistoricalFormat, ViewKind, WriteTarget } from '@tessera/proto';
import type { Column, GetHistoricalResponse, MaterializeProgress } from '@tessera/proto';
import { definitionsFromYaml } from '@tessera/testkit';
import { freshBackend, startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

const DAY = 86_400_000;
const CLI = join(import.meta.dirname, '..', '..', 'packages', 'cli', 'bin', 'tessera.js');
const START = Date.UTC(2026, 10, 1);
const CATEGORIES = ['books', 'toys', 'games'];

const BASE = `
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
`;
const SELECT = `SELECT assumeNotNull(category) AS category, toStartOfDay(event_ts) AS event_ts,
        sum(amount) AS revenue, count() AS orders
      FROM {{ purchases }}
      WHERE event_ts >= {start:DateTime64(3)} AND event_ts < {end:DateTime64(3)} AND category IS NOT NULL
      GROUP BY category, event_ts`;
const sqlView = (select: string) => `
sql_views:
  - name: category_daily_revenue
    entities: [category]
    sql: |
      ${select}
    schedule: { every: 1d, delay: 1h }
    features: [{ name: revenue, type: double }, { name: orders, type: int64 }]
`;

/** 90 purchases over three days. */
const EVENTS = Array.from({ length: 90 }, (_, i) => ({
  customer: BigInt(i % 11),
  ts: START + Math.floor((i * 3 * DAY) / 90) + 17,
  amount: (i % 7) * 1.5 + 0.5,
  category: CATEGORIES[i % 3] as string,
}));

const OTHER = `
  - name: other
    entities: [customer]
    features: [{ name: score, type: double }]
`;

async function applyError(t: TestServer, select: string, extra = ''): Promise<TesseraClientError | undefined> {
  return (await t.client.apply(definitionsFromYaml({ 'repo.yaml': BASE + extra + sqlView(select) })).then(
    () => undefined,
    (e: unknown) => e,
  )) as TesseraClientError | undefined;
}

describe('SQL views through a real server (embedded LMDB + chDB)', () => {
  let t: TestServer;
  let cleanup: () => void;

  beforeAll(async () => {
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend);
    await t.client.apply(definitionsFromYaml({ 'repo.yaml': BASE }));
    await t.client.write({
      featureView: 'purchases',
      target: WriteTarget.WRITE_TARGET_OFFLINE,
      durability: Durability.DURABILITY_SYNC,
      columns: {
        customer_id: toColumn(
          'int64',
          EVENTS.map((e) => e.customer),
        ),
        amount: toColumn(
          'double',
          EVENTS.map((e) => e.amount),
        ),
        category: toColumn(
          'string',
          EVENTS.map((e) => e.category),
        ),
      },
      eventTimestamps: toColumn(
        'timestamp',
        EVENTS.map((e) => e.ts),
      ),
    });
  }, 120_000);

  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    cleanup?.();
  });

  it('refuses a bad SELECT at apply, naming the problem, and applies nothing', async () => {
    const several = await applyError(t, `${SELECT}; SELECT 1`);
    expect(several?.grpcCodeName).toBe('INVALID_ARGUMENT');
    expect(several?.message).toContain(
      'SQL view category_daily_revenue: sql exactly one SELECT statement is allowed (found more than one)',
    );
    // A table of the offline database that is not a placeholder's: the lineage would miss it.
    await t.client.apply(definitionsFromYaml({ 'repo.yaml': BASE + OTHER }));
    const foreign = await applyError(
      t,
      SELECT.replace('AND category IS NOT NULL', 'AND customer_id IN (SELECT customer_id FROM tessera.fv_other__v1)'),
      OTHER,
    );
    expect(foreign?.grpcCodeName).toBe('INVALID_ARGUMENT');
    expect(foreign?.message).toContain(
      'SQL view category_daily_revenue: sql table tessera.fv_other__v1 is not read through a placeholder: name every view the SQL reads as {{ view }} or {{ view@n }}',
    );
    const wrongType = await applyError(t, SELECT.replace('sum(amount) AS revenue', 'toString(sum(amount)) AS revenue'));
    expect(wrongType?.message).toContain(
      'SQL view category_daily_revenue: column revenue is Nullable(String), feature revenue is double: wrap it in toFloat64(…)',
    );
    const missing = await applyError(t, SELECT.replace(', count() AS orders', ''));
    expect(missing?.message).toContain(
      "column orders (feature int64) is missing from the SELECT's output; return it, e.g. … AS orders",
    );
    // A dry run checks the SELECT too (over typed stand-ins of the tables: nothing is created).
    const dry = await t.client
      .apply(
        definitionsFromYaml({
          'repo.yaml': BASE + sqlView(SELECT.replace('sum(amount) AS revenue', 'toString(sum(amount)) AS revenue')),
        }),
        { dryRun: true },
      )
      .then(
        () => undefined,
        (e: unknown) => e as TesseraClientError,
      );
    expect(dry?.message).toContain('column revenue is Nullable(String), feature revenue is double');
    const planned = await t.client.apply(definitionsFromYaml({ 'repo.yaml': BASE + sqlView(SELECT) }), {
      dryRun: true,
    });
    expect(planned.changes.find((c) => c.name === 'category_daily_revenue')?.kind).toBe(ChangeKind.CHANGE_KIND_CREATE);
    const listed = await t.client.list();
    expect(listed.featureViews.map((v) => v.name).sort()).toEqual(['other', 'purchases']);
  });

  it('registers the view with its lineage (Get, History, apply changes)', async () => {
    const applied = await t.client.apply(definitionsFromYaml({ 'repo.yaml': BASE + sqlView(SELECT) }));
    const created = applied.changes.find((c) => c.name === 'category_daily_revenue');
    expect(created?.details).toEqual(
      expect.arrayContaining(['sql reads: purchases@1', 'schedule: every 1d, delay 1h']),
    );
    const got = (await t.client.get('feature_view', 'category_daily_revenue')).object;
    const view = got?.$case === 'featureView' ? got.value : undefined;
    expect(view?.kind).toBe(ViewKind.VIEW_KIND_SQL);
    expect(view?.sqlSource?.reads).toEqual(['purchases@1']);
    expect(view?.sqlSource?.everyMillis).toBe(BigInt(DAY));
    const history = await t.client.history('category_daily_revenue');
    expect(history.versions[0]?.featureView?.sqlSource?.reads).toEqual(['purchases@1']);
  });

  it('tessera apply names a bad placeholder with file, path and line; tessera ls shows the lineage', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-sql-views-'));
    const tessera = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile('node', [CLI, '--server', t.server.address, ...args], { cwd: dir }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
        );
      });
    try {
      writeFileSync(join(dir, 'repo.yaml'), BASE + sqlView(SELECT.replace('{{ purchases }}', '{{ purchase }}')));
      const bad = await tessera('apply', dir);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(
        /repo\.yaml: sql_views\[0\]\.sql: SQL view category_daily_revenue: sql: placeholder \{\{ purchase \}\} names an unknown feature view; defined views: .* \(line \d+\)/,
      );
      const ls = await tessera('ls', 'views');
      expect(ls.stdout).toMatch(/category_daily_revenue\s+1\s+category\s+2\s+.*purchases@1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('backfills by day and serves the same values online and in GetHistorical, equal to the raw sums', async () => {
    const progress: MaterializeProgress[] = [];
    const finals = await t.client.materialize(
      { featureViews: ['category_daily_revenue'], startMillis: START, endMillis: START + 3 * DAY },
      (p) => progress.push(p),
    );
    const days = progress.filter((p) => p.featureView === 'sql:category_daily_revenue@1');
    expect(days.map((p) => Number(p.rowsRead))).toEqual([0, 1, 2, 3]);
    expect(days.every((p) => p.rowsWritten === 3n)).toBe(true);
    expect(finals).toEqual([
      expect.objectContaining({ featureView: 'category_daily_revenue@1', rowsWritten: 3n, done: true }),
    ]);

    // The last day's sums from the raw events.
    const lastDay = START + 2 * DAY;
    const sums = CATEGORIES.map((c) => {
      const of = EVENTS.filter((e) => e.category === c && e.ts >= lastDay);
      return { revenue: of.reduce((a, e) => a + e.amount, 0), orders: BigInt(of.length) };
    });
    const online = await t.client.getOnlineFeaturesRaw({
      features: ['category_daily_revenue:revenue', 'category_daily_revenue:orders'],
      entities: { category: toColumn('string', CATEGORIES) },
    });
    expect(online.features.every((f) => f.statuses.every((s) => s === FeatureStatus.FEATURE_STATUS_PRESENT))).toBe(
      true,
    );
    const [revenue, orders] = online.features.map((f) => fromColumn(f.values!));
    expect(revenue).toHaveLength(3);
    revenue!.forEach((v, i) => expect(v).toBeCloseTo(sums[i]!.revenue, 9));
    expect(orders).toEqual(sums.map((s) => s.orders));

    const chunks: GetHistoricalResponse[] = [];
    for await (const chunk of t.client.getHistorical({
      entities: {
        $case: 'rows',
        value: {
          keys: { category: toColumn('string', CATEGORIES) },
          eventTimestamps: CATEGORIES.map(() => BigInt(START + 3 * DAY)),
          passthrough: {},
        },
      },
      features: ['category_daily_revenue:revenue', 'category_daily_revenue:orders'],
      featureService: '',
      format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
      chunkRows: 10,
    }))
      chunks.push(chunk);
    const names = chunks[0]!.names;
    const column = (name: string) => chunks.flatMap((c) => fromColumn(c.columns[names.indexOf(name)] as Column));
    expect(column('category_daily_revenue__revenue')).toEqual(revenue);
    expect(column('category_daily_revenue__orders')).toEqual(orders);

    // The same range again through `tessera backfill`: it resumes after the days done, and the values stay.
    const cli = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const range = ['--from', String(START), '--to', String(START + 3 * DAY)];
      execFile('node', [CLI, '--server', t.server.address, 'backfill', 'category_daily_revenue', ...range], (e, o, r) =>
        resolve({ code: e === null ? 0 : Number(e.code ?? 1), stdout: o, stderr: r }),
      );
    });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^backfilled category_daily_revenue@1: \d+ entities read, \d+ written online/m);
    const again = await t.client.getOnlineFeaturesRaw({
      features: ['category_daily_revenue:revenue', 'category_daily_revenue:orders'],
      entities: { category: toColumn('string', CATEGORIES) },
    });
    expect(again.features.map((f) => fromColumn(f.values!))).toEqual([revenue, orders]);
  });
});

describe('SQL views on a server without an offline store', () => {
  it('refuses the apply with UNAVAILABLE naming the view', async () => {
    const fresh = freshBackend('redis-cluster', inject('redisCluster').nodes);
    await using t = await startTestServer(fresh.backend);
    const error = (await t.client.apply(definitionsFromYaml({ 'repo.yaml': BASE + sqlView(SELECT) })).then(
      () => undefined,
      (e: unknown) => e,
    )) as TesseraClientError | undefined;
    expect(error?.grpcCodeName).toBe('UNAVAILABLE');
    expect(error?.message).toContain('SQL view category_daily_revenue: Apply checks');
  }, 60_000);
});
