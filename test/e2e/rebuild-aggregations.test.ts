/**
 * `Materialize` with `aggregations` (`tessera materialize --aggregations VIEW`, design §3.6, §4.4)
 * through a real server (embedded: LMDB + chDB) with an injected clock: history loaded with target
 * OFFLINE never reaches online tiles by itself; the rebuild fills the next tile generation from
 * the offline events and switches to it; then every entity's online values equal GetHistorical at
 * the time the online read reports — grouped windows per (customer, product) too (design §1.8) —
 * before and after a live write (which folds into the new generation, a replayed history event
 * counted once) and days later. The brute-force comparison,
 * the interrupted + resumed run and the ok markers are in packages/materialize/test/rebuild-aggregations.test.ts.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromColumn, toColumn } from '@tessera/client';
import { silentLogger } from '@tessera/core';
import { Durability, HistoricalFormat, WriteTarget } from '@tessera/proto';
import type { GetHistoricalResponse } from '@tessera/proto';
import { definitionsFromYaml } from '@tessera/testkit';
import { freshBackend, startTestServer, type TestServer } from '../support/server.js';
import { purchasesWrite, type PurchaseRow } from '../support/purchase-writes.js';

const CLI = join(fileURLToPath(new URL('../..', import.meta.url)), 'packages', 'cli', 'bin', 'tessera.js');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const CUSTOMERS = 120;

const REPO = {
  'repo.yaml': `
project: rebuild
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: purchases
    kind: events
    entities: [customer]
    allowed_lateness: 1h
    features:
      - { name: amount, type: int64 }
      - { name: product, type: string, not_null: true }
    aggregations:
      - { name: purchases_7d, function: count, window: 7d }
      - { name: revenue_30d, function: sum, input: amount, window: 30d }
      - { name: avg_order_30d, function: mean, input: amount, window: 30d }
      - { name: products_30d, function: approx_distinct, input: product, window: 30d }
      - { name: last_purchase_at, function: last_ts, window: unbounded }
      - { name: last_3_amounts, function: last_n, n: 3, input: amount, window: unbounded }
      - { name: biggest_1h, function: max, input: amount, window: 1h }
      - { name: purchases_by_product_7d, function: count, window: 7d, group_by: product }
      - { name: revenue_by_product_30d, function: sum, input: amount, window: 30d, group_by: product }
      - { name: last_3_by_product, function: last_n, n: 3, input: amount, window: unbounded, group_by: product }
`,
};
const AGGREGATIONS = [
  'purchases_7d',
  'revenue_30d',
  'avg_order_30d',
  'products_30d',
  'last_purchase_at',
  'last_3_amounts',
  'biggest_1h',
];
/** Grouped by product (design §1.8): served per (customer, product), rebuilt into group fields. */
const GROUPED = ['purchases_by_product_7d', 'revenue_by_product_30d', 'last_3_by_product'];
/** Every product any test writes, so each (customer, product) group is compared. */
const PRODUCTS = [...Array.from({ length: 9 }, (_, i) => `p${i}`), 'recent', 'new', 'x', 'late', 'future'];

type Row = PurchaseRow;

const write = (rows: readonly Row[], target?: WriteTarget, durability = Durability.DURABILITY_SYNC) =>
  purchasesWrite(rows, durability, target);

describe('materialize --aggregations: online tiles rebuilt from offline history (embedded)', () => {
  let t: TestServer;
  let cleanup: () => void;
  let now = Math.floor(Date.now() / 1000) * 1000;
  const ids = Array.from({ length: CUSTOMERS }, (_, i) => BigInt(i + 1));
  /** Customer 2's history event 10 minutes before the rebuild: a live replay of it is a duplicate. */
  let recent: Row;

  beforeAll(async () => {
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend, { logger: silentLogger, clock: () => now });
    await t.client.apply(definitionsFromYaml(REPO));
    // 30 days of history, offline only; distinct times per customer (one Write refuses two rows of
    // one entity at one time); customer 120 has none.
    const rows: Row[] = [];
    let seed = 7;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (const id of ids.slice(0, -1)) {
      const n = 1 + Math.floor(rnd() * 12);
      for (let i = 0; i < n; i++) {
        rows.push([
          id,
          now - 1 - i * 97_531 - Math.floor(rnd() * 30 * DAY),
          BigInt(Math.floor(rnd() * 500)),
          `p${Math.floor(rnd() * 9)}`,
        ]);
      }
    }
    recent = [2n, now - 10 * MINUTE, 42n, 'recent'];
    rows.push(recent);
    for (let i = 0; i < rows.length; i += 500) {
      await t.client.write(write(rows.slice(i, i + 500), WriteTarget.WRITE_TARGET_OFFLINE));
    }
  }, 120_000);

  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    cleanup?.();
  });

  /**
   * Online values (and the t each was served at) of every customer, and GetHistorical at those t;
   * then the grouped ones of every (customer, product) likewise (the product is the group column).
   */
  async function bothSides(): Promise<{ online: unknown[][]; offline: unknown[][] }> {
    const ungrouped = await sides(AGGREGATIONS, ids);
    const customers = ids.flatMap((id) => PRODUCTS.map(() => id));
    const grouped = await sides(GROUPED, customers, {
      product: ids.flatMap(() => PRODUCTS),
    });
    return {
      online: [...ungrouped.online, ...grouped.online],
      offline: [...ungrouped.offline, ...grouped.offline],
    };
  }

  async function sides(
    aggregations: readonly string[],
    customers: readonly bigint[],
    group: { product?: string[] } = {},
  ): Promise<{ online: unknown[][]; offline: unknown[][] }> {
    const refs = aggregations.map((a) => `purchases:${a}`);
    const got = await t.client.getOnlineFeatures(
      refs,
      { customer_id: [...customers], ...group },
      { includeEventTimestamps: true },
    );
    const at = customers.map((_, k) => got.eventTimestamps?.[0]?.[k] ?? -1);
    const chunks: GetHistoricalResponse[] = [];
    for await (const chunk of t.client.getHistorical({
      entities: {
        $case: 'rows',
        value: {
          keys: { customer_id: toColumn('int64', customers) },
          eventTimestamps: at.map(BigInt),
          passthrough: group.product === undefined ? {} : { product: toColumn('string', group.product) },
        },
      },
      features: refs,
      featureService: '',
      format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
      chunkRows: 1000,
    })) {
      chunks.push(chunk);
    }
    const names = chunks[0]?.names ?? [];
    const norm = (v: unknown): unknown => (ArrayBuffer.isView(v) ? [...(v as BigInt64Array)] : v);
    const offline = aggregations.map((a) => {
      const i = names.indexOf(`purchases__${a}`);
      return chunks.flatMap((c) => fromColumn(c.columns[i]!)).map(norm);
    });
    return { online: got.values.map((column) => column.map(norm)), offline };
  }

  it('serves nothing of the history online before the rebuild', async () => {
    const got = await t.client.getOnlineFeatures(['purchases:purchases_7d'], { customer_id: ids });
    expect(got.values[0]?.every((v) => v === 0n)).toBe(true);
    const grouped = await t.client.getOnlineFeatures(['purchases:purchases_by_product_7d'], {
      customer_id: ids.flatMap((id) => PRODUCTS.map(() => id)),
      product: ids.flatMap(() => PRODUCTS),
    });
    expect(grouped.values[0]?.every((v) => v === 0n)).toBe(true);
  });

  it('rebuilds every entity and then serves exactly the offline values', async () => {
    const finals = await t.client.materialize({ featureViews: ['purchases'], aggregations: true });
    expect(finals).toHaveLength(1);
    expect(finals[0]).toMatchObject({ featureView: 'purchases@1', done: true, rowsWritten: BigInt(CUSTOMERS - 1) });
    expect(finals[0]?.partsDone).toBe(finals[0]?.parts);
    const { online, offline } = await bothSides();
    expect(online[0]?.some((v) => v !== 0n)).toBe(true);
    // The grouped windows hold the history too (online = GetHistorical per (customer, product)).
    expect(online[AGGREGATIONS.length]?.some((v) => v !== 0n)).toBe(true);
    expect(online).toEqual(offline);
  });

  it('folds live writes into the new generation, a replayed history event once', async () => {
    now += MINUTE;
    const live = await t.client.write(write([recent, [1n, now - 1_000, 7n, 'new']]));
    expect(live.rowsDuplicateEvents).toBe(1n);
    const { online, offline } = await bothSides();
    expect(online).toEqual(offline);
    now += 3 * DAY + 17 * MINUTE;
    const later = await bothSides();
    expect(later.online).toEqual(later.offline);
  });

  it('rebuilds again from the CLI (tessera materialize --aggregations), live events included', async () => {
    const tessera = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile('node', [CLI, '--server', t.server.address, ...args], (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
        );
      });
    const refused = await tessera('materialize', 'purchases', '--aggregations', '--start', '2024-01-01');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--aggregations takes no --start/);
    const run = await tessera('materialize', 'purchases', '--aggregations');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // Every customer with an event: 119 (customer 120 has none); generation 3 now serves.
    expect(run.stdout).toMatch(
      /rebuilt purchases@1 aggregations: \d+ events read, 119 entities written \((\d+)\/\1 parts\)/,
    );
    const { online, offline } = await bothSides();
    expect(online).toEqual(offline);
  });

  it('rebuilds exactly while writes continue: new, replayed, late and future events (dual write)', async () => {
    now += HOUR;
    let seed = 11;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const customer = (): bigint => ids[Math.floor(rnd() * (ids.length - 1))] as bigint;
    const fresh = (): Row => [
      customer(),
      now - 1 - Math.floor(rnd() * 50 * MINUTE),
      BigInt(Math.floor(rnd() * 500)),
      'x',
    ];
    // Before the rebuild: live writes into the served generation (3) alone, some still in the outbox.
    const before: Row[] = Array.from({ length: 40 }, fresh);
    await t.client.write(write(before.slice(0, 20)));
    await t.client.write(write(before.slice(20), undefined, Durability.DURABILITY_WRITE_BEHIND));
    const rebuild = t.client.materialize({ featureViews: ['purchases'], aggregations: true });
    let finished = false;
    const result = rebuild.finally(() => {
      finished = true;
    });
    const sent: Row[] = [...before];
    let duplicates = 0n;
    let excluded = 0n;
    let writes = 0;
    for (let i = 0; i < 400 && !finished; i++, writes++) {
      const rows: Row[] = [fresh(), fresh(), fresh()];
      rows.push(before[Math.floor(rnd() * before.length)] as Row); // a generation-3 copy
      rows.push(sent[Math.floor(rnd() * sent.length)] as Row);
      rows.push([customer(), now - 2 * HOUR, 1n, 'late']); // excluded: older than allowed_lateness
      rows.push([customer(), now + 20_000 + i, 3n, 'future']); // pending until its time
      const durability = i % 2 === 0 ? Durability.DURABILITY_SYNC : Durability.DURABILITY_WRITE_BEHIND;
      const answer = await t.client.write(write(rows, undefined, durability));
      duplicates += answer.rowsDuplicateEvents;
      excluded += answer.rowsExcludedLate;
      sent.push(...rows.slice(0, 3), rows[6] as Row);
    }
    const finals = await result;
    console.log(`rebuild under traffic: ${writes} writes while it ran, ${duplicates} duplicates, ${excluded} late`);
    expect(writes).toBeGreaterThan(2);
    expect(finals[0]).toMatchObject({ featureView: 'purchases@1', done: true });
    expect(excluded).toBeGreaterThan(0n);
    expect(duplicates).toBeGreaterThanOrEqual(excluded);
    // The rebuilt generation (4) now serves; once the outbox drained, online equals GetHistorical.
    let sides = await bothSides();
    for (let i = 0; i < 50 && JSON.stringify(sides.online, big) !== JSON.stringify(sides.offline, big); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sides = await bothSides();
    }
    expect(sides.online).toEqual(sides.offline);
    now += 30_000; // the future events are due: folded at the read
    const later = await bothSides();
    expect(later.online).toEqual(later.offline);
  }, 60_000);

  it('refuses a view without aggregations, naming it', async () => {
    await expect(t.client.materialize({ featureViews: ['nope'], aggregations: true })).rejects.toThrow(/nope/);
  });
});

function big(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? String(value) : value;
}
