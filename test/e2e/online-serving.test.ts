import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TesseraError } from '@tessera/core';
import type { FeatureValue } from '@tessera/core';
import { toColumn } from '@tessera/client';
import type { TesseraClient } from '@tessera/client';
import { Durability, WriteTarget } from '@tessera/proto';
import type { Column } from '@tessera/proto';
import { definitionsFromYaml } from '@tessera/testkit';
import { freshBackend, startTestServer } from '../support/server.js';
import type { BackendKind, TestServer } from '../support/server.js';

const REPO = {
  'entities.yaml': `
project: e2e
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
  - { name: product, join_keys: [{ name: product_id, type: string }] }
`,
  'views.yaml': `
feature_views:
  - name: customer_stats
    entities: [customer]
    ttl: 1h
    features:
      - { name: purchases, type: int64, min: 0 }
      - { name: loyalty, type: double, min: 0, max: 5 }
      - { name: segment, type: string, allowed_values: [new, regular, vip] }
      - { name: active, type: bool }
      - { name: last_seen, type: timestamp }
      - { name: blob, type: bytes, max_length: 8 }
      - { name: embedding, type: float_list, dimension: 3 }
      - { name: scores, type: double_list }
      - { name: ids, type: int64_list }
      - { name: tags, type: string_list }
  - name: customer_profile
    entities: [customer]
    ttl: 0
    features:
      - { name: country, type: string, not_null: true }
  - name: product_stats
    entities: [product]
    features:
      - { name: price, type: double }
feature_services:
  - { name: scoring, features: ['customer_stats:loyalty', 'customer_profile:*'] }
`,
};

const HOUR = 3_600_000;

async function expectError(
  promise: Promise<unknown>,
  code: TesseraError['code'],
  ...fragments: string[]
): Promise<TesseraError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TesseraError);
  const te = error as TesseraError;
  expect(te.code, te.message).toBe(code);
  for (const fragment of fragments) expect(te.message).toContain(fragment);
  return te;
}

function int64Keys(...ids: number[]): Column {
  return toColumn(
    'int64',
    ids.map((id) => BigInt(id)),
  );
}

/** Writes customer_stats rows (online) with the given event times. */
function writeStats(
  client: TesseraClient,
  rows: { id: number; at: number; purchases?: number | null; loyalty?: number | null }[],
) {
  return client.write({
    featureView: 'customer_stats',
    target: WriteTarget.WRITE_TARGET_ONLINE,
    columns: {
      customer_id: int64Keys(...rows.map((r) => r.id)),
      purchases: toColumn(
        'int64',
        rows.map((r) => (r.purchases === undefined || r.purchases === null ? null : BigInt(r.purchases))),
      ),
      loyalty: toColumn(
        'double',
        rows.map((r) => r.loyalty ?? null),
      ),
    },
    eventTimestamps: toColumn(
      'timestamp',
      rows.map((r) => r.at),
    ),
  });
}

describe.each<BackendKind>(['embedded', 'redis-cluster'])('online serving over gRPC (%s)', (kind) => {
  let t: TestServer;
  let cleanup: () => void;

  beforeAll(async () => {
    const fresh = freshBackend(kind, inject('redisCluster').nodes);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend, { maxBatchRows: 2_000, maxMessageBytes: 1024 * 1024 });
    await t.client.apply(definitionsFromYaml(REPO), { author: 'e2e' });
  });
  afterAll(async () => {
    await t[Symbol.asyncDispose]();
    cleanup();
  });

  it('returns every type as written, with status and event time', async () => {
    const at = Date.now() - 60_000;
    const values: Record<string, [Parameters<typeof toColumn>[0], FeatureValue]> = {
      purchases: ['int64', 9007199254740993n],
      loyalty: ['double', 4.25],
      segment: ['string', 'vip'],
      active: ['bool', true],
      last_seen: ['timestamp', at - 5_000],
      blob: ['bytes', new Uint8Array([0, 255, 7])],
      embedding: ['float_list', Float32Array.from([0.5, -1.25, 3])],
      scores: ['double_list', Float64Array.from([])],
      ids: ['int64_list', BigInt64Array.from([-1n, 2n ** 62n])],
      tags: ['string_list', ['a', 'ü', '']],
    };
    await t.client.write({
      featureView: 'customer_stats',
      target: WriteTarget.WRITE_TARGET_ONLINE,
      columns: {
        customer_id: int64Keys(1),
        ...Object.fromEntries(Object.entries(values).map(([name, [type, v]]) => [name, toColumn(type, [v])])),
      },
      eventTimestamps: toColumn('timestamp', [at]),
    });
    const result = await t.client.getOnlineFeatures({
      features: ['customer_stats:*'],
      entities: { customer_id: [1n] },
      includeEventTimestamps: true,
    });
    expect(result.refs).toEqual(Object.keys(values).map((name) => `customer_stats@1:${name}`));
    Object.values(values).forEach(([, v], f) => {
      expect(result.values[f]![0]).toEqual(v);
      expect(result.statuses[f]![0]).toBe('PRESENT');
      expect(result.eventTimestamps![f]![0]).toBe(at);
    });
  });

  it('answers NOT_FOUND for unknown entities and nulls for null features', async () => {
    await writeStats(t.client, [{ id: 2, at: Date.now(), purchases: 3, loyalty: null }]);
    const result = await t.client.getOnlineFeatures({
      features: ['customer_stats:purchases', 'customer_stats:loyalty'],
      entities: { customer_id: [2n, 424242n] },
    });
    expect(result.values).toEqual([
      [3n, null],
      [null, null],
    ]);
    expect(result.statuses).toEqual([
      ['PRESENT', 'NOT_FOUND'],
      ['PRESENT', 'NOT_FOUND'],
    ]);
  });

  it('keeps the newer value when an older event arrives late, and lets an equal event replace', async () => {
    const now = Date.now();
    const first = await writeStats(t.client, [{ id: 3, at: now - 1_000, purchases: 10 }]);
    expect(first.rowsAppliedOnline).toBe(1n);
    const late = await writeStats(t.client, [{ id: 3, at: now - 5_000, purchases: 5 }]);
    expect(late.rowsStaleOnline).toBe(1n);
    const get = () =>
      t.client.getOnlineFeatures({ features: ['customer_stats:purchases'], entities: { customer_id: [3n] } });
    expect((await get()).values[0]).toEqual([10n]);
    await writeStats(t.client, [{ id: 3, at: now - 1_000, purchases: 11 }]);
    expect((await get()).values[0]).toEqual([11n]);
  });

  it('reports EXPIRED for values older than the view TTL and never for TTL 0', async () => {
    // Older than the 1 h TTL, younger than the 2 h retention after which a store may drop it.
    const old = Date.now() - 1.5 * HOUR;
    await writeStats(t.client, [{ id: 4, at: old, purchases: 1 }]);
    await t.client.write({
      featureView: 'customer_profile',
      target: WriteTarget.WRITE_TARGET_ONLINE,
      columns: { customer_id: int64Keys(4), country: toColumn('string', ['DE']) },
      eventTimestamps: toColumn('timestamp', [Date.now() - 1000 * HOUR]),
    });
    const result = await t.client.getOnlineFeatures({ featureService: 'scoring', entities: { customer_id: [4n] } });
    expect(result.refs).toEqual(['customer_stats@1:loyalty', 'customer_profile@1:country']);
    expect(result.statuses).toEqual([['EXPIRED'], ['PRESENT']]);
    expect(result.values).toEqual([[null], ['DE']]);
  });

  it("writes a view as a unit and leaves the entity's other views alone", async () => {
    const now = Date.now();
    await t.client.write({
      featureView: 'customer_profile',
      target: WriteTarget.WRITE_TARGET_ONLINE,
      columns: { customer_id: int64Keys(5), country: toColumn('string', ['FR']) },
      eventTimestamps: toColumn('timestamp', [now]),
    });
    await writeStats(t.client, [{ id: 5, at: now, purchases: 2, loyalty: 1 }]);
    await writeStats(t.client, [{ id: 5, at: now + 1, purchases: 3 }]);
    const result = await t.client.getOnlineFeatures({
      features: ['customer_profile:country', 'customer_stats:purchases', 'customer_stats:loyalty'],
      entities: { customer_id: [5n] },
    });
    // The second stats write replaced the whole stats row (loyalty now null) but not the profile.
    expect(result.values).toEqual([['FR'], [3n], [null]]);
  });

  it('takes a batch with several events of one entity and keeps the latest online', async () => {
    const now = Date.now();
    const result = await writeStats(t.client, [
      { id: 20, at: now - 3_000, purchases: 1 },
      { id: 20, at: now - 1_000, purchases: 3 },
      { id: 20, at: now - 2_000, purchases: 2 },
    ]);
    expect([result.rows, result.rowsAppliedOnline, result.rowsStaleOnline]).toEqual([3n, 1n, 2n]);
    const got = await t.client.getOnlineFeatures({
      features: ['customer_stats:purchases'],
      entities: { customer_id: [20n] },
    });
    expect(got.values[0]).toEqual([3n]);
  });

  it('serves a batch of 1,000 entities spread over all slots in one request', async () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => 10_000 + i * 7919);
    const now = Date.now();
    await writeStats(
      t.client,
      ids.map((id, i) => ({ id, at: now, purchases: i, loyalty: (i % 50) / 10 })),
    );
    const result = await t.client.getOnlineFeatures({
      features: ['customer_stats:purchases', 'customer_stats:loyalty'],
      entities: { customer_id: ids.map(BigInt) },
    });
    expect(result.values[0]).toEqual(ids.map((_, i) => BigInt(i)));
    expect(result.values[1]).toEqual(ids.map((_, i) => (i % 50) / 10));
    expect(new Set(result.statuses[0])).toEqual(new Set(['PRESENT']));
  });

  it('reads features of views on different entities in one request', async () => {
    await t.client.write({
      featureView: 'product_stats',
      target: WriteTarget.WRITE_TARGET_ONLINE,
      columns: { product_id: toColumn('string', ['p-1']), price: toColumn('double', [9.5]) },
      eventTimestamps: toColumn('string', [new Date().toISOString()]),
    });
    await writeStats(t.client, [{ id: 6, at: Date.now(), purchases: 6 }]);
    const result = await t.client.getOnlineFeatures({
      features: ['product_stats:price', 'customer_stats:purchases'],
      entities: { customer_id: [6n], product_id: ['p-1'] },
    });
    expect(result.values).toEqual([[9.5], [6n]]);
  });

  describe('rejects bad writes whole, naming row, column and rule, and writes nothing', () => {
    const base = () => {
      const now = Date.now();
      return {
        featureView: 'customer_stats',
        target: WriteTarget.WRITE_TARGET_ONLINE,
        columns: { customer_id: int64Keys(700, 701), loyalty: toColumn('double', [1, 2]) } as Record<string, Column>,
        eventTimestamps: toColumn('timestamp', [now, now]),
      };
    };
    const nothingWritten = async () => {
      const result = await t.client.getOnlineFeatures({
        features: ['customer_stats:loyalty'],
        entities: { customer_id: [700n, 701n] },
      });
      expect(result.statuses[0]).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    };

    it('unknown view', async () => {
      await expectError(t.client.write({ ...base(), featureView: 'nope' }), 'NOT_FOUND', 'nope');
    });
    it('a WriteStream that fails while the client still produces batches', async () => {
      let produced = 0;
      async function* batches() {
        for (; produced < 2_000; produced += 1) {
          yield { ...base(), featureView: produced === 0 ? 'nope' : 'customer_stats' };
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      // The failure reaches the caller from the promise, the client stops sending, and nothing is written.
      await expectError(t.client.writeStream(batches()), 'NOT_FOUND', 'nope');
      expect(produced).toBeLessThan(2_000);
      await nothingWritten();
    });
    it('unknown column', async () => {
      const w = base();
      w.columns['colour'] = toColumn('string', ['red', 'blue']);
      await expectError(t.client.write(w), 'INVALID_ARGUMENT', 'colour');
      await nothingWritten();
    });
    it('wrong type', async () => {
      const w = base();
      w.columns['loyalty'] = toColumn('string', ['high', 'low']);
      await expectError(t.client.write(w), 'INVALID_ARGUMENT', 'row 0', 'loyalty');
      await nothingWritten();
    });
    it('constraint violation in the second row', async () => {
      const w = base();
      w.columns['loyalty'] = toColumn('double', [1, 7.5]);
      await expectError(t.client.write(w), 'INVALID_ARGUMENT', 'row 1', 'loyalty', '7.5', 'max 5');
      await nothingWritten();
    });
    it('NaN where not allowed', async () => {
      const w = base();
      w.columns['loyalty'] = toColumn('double', [NaN, 1]);
      await expectError(t.client.write(w), 'INVALID_ARGUMENT', 'row 0', 'loyalty', 'NaN');
      await nothingWritten();
    });
    it('missing event timestamps', async () => {
      const w = base();
      await expectError(
        t.client.write({ ...w, eventTimestamps: toColumn('timestamp', [Date.now()]) }),
        'INVALID_ARGUMENT',
        'event timestamps',
        'has 1 values',
        'has 2',
      );
      await nothingWritten();
    });
    it('malformed event timestamp', async () => {
      await expectError(
        t.client.write({ ...base(), eventTimestamps: toColumn('string', ['2024-03-01T10:00:00Z', 'yesterday']) }),
        'INVALID_ARGUMENT',
        'row 1',
        'yesterday',
      );
      await nothingWritten();
    });
    it('the same key at the same event time twice in one batch', async () => {
      const w = base();
      w.columns['customer_id'] = int64Keys(700, 700);
      await expectError(t.client.write(w), 'INVALID_ARGUMENT', 'row 1', 'row 0');
      await nothingWritten();
    });
    it('a batch over the row limit', async () => {
      const ids = Array.from({ length: 2_001 }, (_, i) => 800_000 + i);
      await expectError(
        writeStats(
          t.client,
          ids.map((id) => ({ id, at: Date.now() })),
        ),
        'INVALID_ARGUMENT',
        '2000',
      );
    });
    it('a message over the size limit', async () => {
      const w = base();
      w.columns['segment'] = toColumn('string', ['x'.repeat(600_000), 'y'.repeat(600_000)]);
      await expectError(t.client.write(w), 'RESOURCE_EXHAUSTED');
      await nothingWritten();
    });
  });

  describe('rejects bad reads', () => {
    it('unknown refs with NOT_FOUND naming the ref', async () => {
      await expectError(
        t.client.getOnlineFeatures({ features: ['customer_stats:nope'], entities: { customer_id: [1n] } }),
        'NOT_FOUND',
        'customer_stats:nope',
      );
      await expectError(
        t.client.getOnlineFeatures({ features: ['ghost:x'], entities: { customer_id: [1n] } }),
        'NOT_FOUND',
        'ghost',
      );
      await expectError(
        t.client.getOnlineFeatures({ featureService: 'ghost_service', entities: { customer_id: [1n] } }),
        'NOT_FOUND',
        'ghost_service',
      );
    });
    it('a missing join key column', async () => {
      await expectError(
        t.client.getOnlineFeatures({ features: ['customer_stats:loyalty'], entities: { product_id: ['p'] } }),
        'INVALID_ARGUMENT',
        'customer_id',
      );
    });
    it('more entities than the batch limit', async () => {
      const ids = Array.from({ length: 2_001 }, (_, i) => BigInt(i));
      await expectError(
        t.client.getOnlineFeatures({ features: ['customer_stats:loyalty'], entities: { customer_id: ids } }),
        'INVALID_ARGUMENT',
        '2000',
      );
    });
  });

  it('honours deadlines', async () => {
    const error = await new Promise<{ code: number } | null>((resolve) => {
      t.client.featureStore.getOnlineFeatures(
        {
          features: ['customer_stats:loyalty'],
          featureService: '',
          entities: { customer_id: int64Keys(1) },
          includeEventTimestamps: false,
        },
        new Metadata(),
        { deadline: Date.now() - 1 },
        (e) => resolve(e),
      );
    });
    expect(error?.code).toBe(4);
  });

  it('refuses a Write with timestamps the offline store cannot hold, naming row and column, unless it is online only', async () => {
    const year2400 = Date.UTC(2400, 0, 1);
    await expectError(
      t.client.write({
        featureView: 'customer_stats',
        columns: { customer_id: int64Keys(710, 711), last_seen: toColumn('timestamp', [Date.now(), year2400]) },
        eventTimestamps: toColumn('timestamp', [Date.now(), Date.now()]),
      }),
      'INVALID_ARGUMENT',
      'row 1, column last_seen',
    );
    const online = await t.client.getOnlineFeatures({
      features: ['customer_stats:last_seen'],
      entities: { customer_id: [710n] },
    });
    expect(online.statuses[0]).toEqual(['NOT_FOUND']);
    const onlineOnly = await t.client.write({
      featureView: 'customer_stats',
      target: WriteTarget.WRITE_TARGET_ONLINE,
      columns: { customer_id: int64Keys(711), last_seen: toColumn('timestamp', [year2400]) },
      eventTimestamps: toColumn('timestamp', [Date.now()]),
    });
    expect(onlineOnly.rowsAppliedOnline).toBe(1n);
  });

  describe('idempotency keys', () => {
    const keyed = (key: string, id: number, at: number, loyalty: number) =>
      t.client.write({
        featureView: 'customer_stats',
        idempotencyKey: key,
        columns: { customer_id: int64Keys(id), loyalty: toColumn('double', [loyalty]) },
        eventTimestamps: toColumn('timestamp', [at]),
      });
    const loyaltyOf = async (id: number) =>
      (
        await t.client.getOnlineFeatures({
          features: ['customer_stats:loyalty'],
          entities: { customer_id: [BigInt(id)] },
        })
      ).values[0]?.[0];

    it('answer a repeated write with the first result and write nothing again', async () => {
      const at = Date.now() - 10_000;
      const first = await keyed(`k-${kind}-1`, 700, at, 1.5);
      expect(first).toMatchObject({ rows: 1n, rowsAppliedOnline: 1n, rowsStaleOnline: 0n });
      // A newer event in between: a second execution of the keyed write would now be stale.
      await writeStats(t.client, [{ id: 700, at: at + 1_000, loyalty: 2.5 }]);
      const pendingBefore = (await t.server.writeBehind.stats()).pendingJobs;
      const again = await keyed(`k-${kind}-1`, 700, at, 1.5);
      expect(again).toEqual(first);
      expect(await loyaltyOf(700)).toBe(2.5);
      expect((await t.server.writeBehind.stats()).pendingJobs).toBeLessThanOrEqual(pendingBefore);
    });

    it('answer concurrent repeats of one keyed write with one result from one execution', async () => {
      const at = Date.now() - 5_000;
      const results = await Promise.all(Array.from({ length: 5 }, () => keyed(`k-${kind}-2`, 701, at, 3.5)));
      for (const r of results) expect(r).toEqual(results[0]);
      expect(results[0]).toMatchObject({ rows: 1n, rowsAppliedOnline: 1n });
      expect(await loyaltyOf(701)).toBe(3.5);
    });

    it('refuse a key reused for a different write, and write nothing', async () => {
      const at = Date.now() - 5_000;
      await keyed(`k-${kind}-3`, 702, at, 4.5);
      await expectError(keyed(`k-${kind}-3`, 702, at + 1, 0.5), 'FAILED_PRECONDITION', 'different write');
      expect(await loyaltyOf(702)).toBe(4.5);
    });

    it('refuse a key longer than 256 characters', async () => {
      await expectError(keyed('x'.repeat(257), 703, Date.now(), 1), 'INVALID_ARGUMENT', 'idempotency key has 257');
      expect(await loyaltyOf(703)).toBeNull();
    });
  });

  it('versions a view on a breaking change and keeps the old version readable', async () => {
    await writeStats(t.client, [{ id: 9, at: Date.now(), purchases: 1 }]);
    const breaking = definitionsFromYaml({
      ...REPO,
      'views.yaml': REPO['views.yaml'].replace(
        '{ name: purchases, type: int64, min: 0 }',
        '{ name: purchases, type: double, min: 0 }',
      ),
    });
    const dry = await t.client.apply(breaking, { dryRun: true });
    expect(dry.dryRun).toBe(true);
    const change = dry.changes.find((c) => c.name === 'customer_stats')!;
    expect([change.fromVersion, change.toVersion]).toEqual([1, 2]);
    expect(change.details.join('\n')).toContain('purchases');
    // Dry run changed nothing.
    expect((await t.client.get('feature_view', 'customer_stats')).object).toMatchObject({ value: { version: 1 } });

    await t.client.apply(breaking);
    expect((await t.client.get('feature_view', 'customer_stats')).object).toMatchObject({ value: { version: 2 } });
    const result = await t.client.getOnlineFeatures({
      features: ['customer_stats@1:purchases', 'customer_stats:purchases'],
      entities: { customer_id: [9n] },
    });
    expect(result.refs).toEqual(['customer_stats@1:purchases', 'customer_stats@2:purchases']);
    expect(result.values).toEqual([[1n], [null]]);
    expect(result.statuses).toEqual([['PRESENT'], ['NOT_FOUND']]);
  });
});

/**
 * Cluster mode without a ClickHouse endpoint: write-behind offline rows go to the queue for the
 * writers; what needs ClickHouse in this server (sync writes, training sets) is refused, never dropped.
 */
describe('a cluster-mode server without an offline store', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(freshBackend('redis-cluster', inject('redisCluster').nodes).backend);
    await t.client.apply(definitionsFromYaml(REPO), { author: 'e2e' });
  });
  afterAll(async () => {
    await t[Symbol.asyncDispose]();
  });

  it('answers UNAVAILABLE to DURABILITY_SYNC offline writes and writes nothing', async () => {
    const now = Date.now();
    await expectError(
      t.client.write({
        featureView: 'customer_stats',
        target: WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE,
        durability: Durability.DURABILITY_SYNC,
        columns: { customer_id: int64Keys(900), loyalty: toColumn('double', [1]) },
        eventTimestamps: toColumn('timestamp', [now]),
      }),
      'UNAVAILABLE',
      'DURABILITY_SYNC',
    );
    const result = await t.client.getOnlineFeatures({
      features: ['customer_stats:loyalty'],
      entities: { customer_id: [900n] },
    });
    expect(result.statuses[0]).toEqual(['NOT_FOUND']);
    expect((await t.server.writeBehind.stats()).pendingJobs).toBe(0);
  });

  it('accepts write-behind offline writes: online at once, the rows queued for the writers', async () => {
    const now = Date.now();
    await t.client.write({
      featureView: 'customer_stats',
      columns: { customer_id: int64Keys(901, 902), loyalty: toColumn('double', [1, 2]) },
      eventTimestamps: toColumn('timestamp', [now, now]),
    });
    const result = await t.client.getOnlineFeatures({
      features: ['customer_stats:loyalty'],
      entities: { customer_id: [901n, 902n] },
    });
    expect(result.values).toEqual([[1, 2]]);
    const stats = await t.server.writeBehind.stats();
    expect(stats.pendingJobs).toBe(1);
    expect(stats.oldestPendingMillis).toBeGreaterThanOrEqual(0);
  });

  it('answers UNAVAILABLE to GetHistorical', async () => {
    const error = await new Promise<unknown>((resolve) => {
      const stream = t.client.featureStore.getHistorical({
        features: ['customer_stats:loyalty'],
        featureService: '',
        format: 0,
        chunkRows: 0,
        entities: { $case: 'entitySql', value: 'SELECT 1 AS customer_id, now64(3) AS event_ts' },
      });
      stream.on('error', resolve);
      stream.on('end', () => resolve(undefined));
      stream.on('data', () => undefined);
    });
    expect(error).toMatchObject({ code: 14 });
    expect(String((error as Error).message)).toContain('offline store');
  });
});
