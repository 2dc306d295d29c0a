import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/core';
import type { FeatureValue } from '@tessera/core';
import { toColumn } from '@tessera/client';
import { Durability, WriteTarget } from '@tessera/proto';
import type { Column } from '@tessera/proto';
import { definitionsFromYaml } from '@tessera/testkit';
import { freshBackend, startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

// Materialize on the embedded server (LMDB online, chDB offline): the latest offline value of each
// entity in a range goes online, never over a fresher online value; incremental runs continue.

const REPO = definitionsFromYaml({
  'repo.yaml': `
project: materialize
entities:
  - { name: user, join_keys: [{ name: user_id, type: int64 }] }
  - { name: shop, join_keys: [{ name: shop_id, type: string }] }
feature_views:
  - name: user_stats
    entities: [user]
    features:
      - { name: visits, type: int64 }
      - { name: score, type: double }
      - { name: tier, type: string }
      - { name: active, type: bool }
      - { name: seen, type: timestamp }
      - { name: blob, type: bytes }
      - { name: embedding, type: float_list, dimension: 2 }
      - { name: weights, type: double_list }
      - { name: ids, type: int64_list }
      - { name: tags, type: string_list }
  - name: user_shop
    entities: [user, shop]
    ttl: 1h
    features: [{ name: orders, type: int64 }]
`,
});

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

type Typed = [Parameters<typeof toColumn>[0], FeatureValue];

function statsColumns(values: Record<string, Typed>): Record<string, Column> {
  return Object.fromEntries(Object.entries(values).map(([name, [type, value]]) => [name, toColumn(type, [value])]));
}

describe('Materialize (embedded)', () => {
  let t: TestServer;
  let cleanup: () => void;

  const writeStats = (
    id: number,
    at: number,
    values: Record<string, Typed>,
    target: WriteTarget = WriteTarget.WRITE_TARGET_OFFLINE,
  ) =>
    t.client.write({
      featureView: 'user_stats',
      target,
      durability: Durability.DURABILITY_SYNC,
      columns: { user_id: toColumn('int64', [BigInt(id)]), ...statsColumns(values) },
      eventTimestamps: toColumn('timestamp', [at]),
    });
  const online = (ids: number[], features: string[]) =>
    t.client.getOnlineFeatures({
      features: features.map((f) => `user_stats:${f}`),
      entities: { user_id: ids.map(BigInt) },
    });

  beforeAll(async () => {
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend);
    await t.client.apply(REPO);
  });
  afterAll(async () => {
    await t[Symbol.asyncDispose]();
    cleanup();
  });

  it('copies the latest value of every type per entity in the range, and keeps fresher online values', async () => {
    const every: Record<string, Typed> = {
      visits: ['int64', 9007199254740993n],
      score: ['double', -0],
      tier: ['string', 'gold ✓\ttab'],
      active: ['bool', true],
      seen: ['timestamp', T0 - 5 * MINUTE],
      blob: ['bytes', new Uint8Array([0, 255, 10])],
      embedding: ['float_list', Float32Array.from([0.5, -1.25])],
      weights: ['double_list', Float64Array.from([])],
      ids: ['int64_list', BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n])],
      tags: ['string_list', ['a', '', 'c d']],
    };
    // User 1: two events, the later one is every type above. User 2: an offline event and a fresher
    // online one. User 3: an event after the range.
    await writeStats(1, T0, { score: ['double', 1], tier: ['string', 'old'] });
    await writeStats(1, T0 + MINUTE, every);
    await writeStats(2, T0, { score: ['double', 2] });
    await writeStats(2, T0 + 2 * MINUTE, { score: ['double', 22] }, WriteTarget.WRITE_TARGET_ONLINE);
    await writeStats(3, T0 + 10 * MINUTE, { score: ['double', 3] });
    expect((await online([1], ['score'])).statuses[0]).toEqual(['NOT_FOUND']);

    const progress: bigint[] = [];
    const finals = await t.client.materialize(
      { featureViews: ['user_stats'], startMillis: T0, endMillis: T0 + 5 * MINUTE },
      (p) => progress.push(p.rowsRead),
    );
    expect(finals).toEqual([
      { featureView: 'user_stats@1', rowsRead: 2n, rowsWritten: 1n, done: true, partsDone: 0, parts: 0 },
    ]);
    expect(progress.length).toBeGreaterThanOrEqual(2);

    const names = Object.keys(every);
    const result = await online([1, 2, 3], names);
    expect(result.values.map((column) => column[0])).toEqual(names.map((name) => every[name]![1]));
    expect(Object.is(result.values[1]![0], -0)).toBe(true);
    expect(result.values[1]!.slice(1)).toEqual([22, null]);
    expect(result.statuses[1]).toEqual(['PRESENT', 'PRESENT', 'NOT_FOUND']);
  });

  it('continues incrementally from where the previous run of the view ended, by event time', async () => {
    // The run above ended at T0 + 5 min: user 3's event (T0 + 10 min) is next.
    const first = await t.client.materialize({ featureViews: ['user_stats'], incremental: true });
    expect(first).toEqual([
      { featureView: 'user_stats@1', rowsRead: 1n, rowsWritten: 1n, done: true, partsDone: 0, parts: 0 },
    ]);
    // A late event, older than the last point, is not picked up again (the point is event time).
    await writeStats(4, T0 + 20 * MINUTE, { score: ['double', 4] });
    // An event after the last point is.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await writeStats(5, Date.now(), { score: ['double', 5] });
    const second = await t.client.materialize({ featureViews: ['user_stats'], incremental: true });
    expect(second).toEqual([
      { featureView: 'user_stats@1', rowsRead: 1n, rowsWritten: 1n, done: true, partsDone: 0, parts: 0 },
    ]);
    expect((await online([3, 4, 5], ['score'])).values[0]).toEqual([3, null, 5]);
  });

  it('skips rows past the view TTL and keys composite join keys like writes do', async () => {
    const now = Date.now();
    await t.client.write({
      featureView: 'user_shop',
      target: WriteTarget.WRITE_TARGET_OFFLINE,
      durability: Durability.DURABILITY_SYNC,
      columns: {
        user_id: toColumn('int64', [1n, 2n]),
        shop_id: toColumn('string', ['s-1', 's-2']),
        orders: toColumn('int64', [7n, 8n]),
      },
      eventTimestamps: toColumn('timestamp', [now - 10 * MINUTE, now - 5 * 60 * MINUTE]),
    });
    const [done] = await t.client.materialize({ featureViews: ['user_shop@1'], startMillis: 0, endMillis: now });
    expect(done).toMatchObject({ rowsRead: 1n, rowsWritten: 1n });
    const result = await t.client.getOnlineFeatures({
      features: ['user_shop:orders'],
      entities: { user_id: [1n, 2n], shop_id: ['s-1', 's-2'] },
    });
    expect(result.values[0]).toEqual([7n, null]);
  });

  it.each([
    [{ featureViews: ['nope'], startMillis: 0, endMillis: 1 }, 'NOT_FOUND', 'nope'],
    [{ featureViews: [], startMillis: 0, endMillis: 1 }, 'INVALID_ARGUMENT', 'at least one feature view'],
    [{ featureViews: ['user_stats'], startMillis: 10, endMillis: 5 }, 'INVALID_ARGUMENT', 'must be before end_time'],
  ])('refuses %j with %s', async (request, code, message) => {
    const error = await t.client.materialize(request).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TesseraError);
    expect((error as TesseraError).code).toBe(code);
    expect((error as TesseraError).message).toContain(message);
  });
});
