import { join } from 'node:path';
import { Client, Metadata, credentials } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MAX_LIST_LENGTH, MAX_STRING_KEY_BYTES, MAX_VALUE_BYTES, TesseraError } from '@tessera/core';
import { fromServiceError, toColumn } from '@tessera/client';
import { ChdbExecutor } from '@tessera/offline';
import { Durability, GetOnlineFeaturesRequest, HistoricalFormat, WriteRequest, WriteTarget } from '@tessera/proto';
import type { Column, WriteResponse } from '@tessera/proto';
import { definitionsFromYaml } from '@tessera/testkit';
import { freshBackend, startTestServer } from '../support/server.js';
import type { BackendKind, TestServer } from '../support/server.js';

// Bounded input and validation that says what is wrong (issue 13, items 6–10), on both online
// stores: every refusal is INVALID_ARGUMENT naming field, row and rule, quotes input at most ~200
// characters, and writes nothing.

const REPO = {
  'repo.yaml': `
project: bounds
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
  - { name: product, join_keys: [{ name: product_id, type: string }] }
feature_views:
  - name: customer_stats
    entities: [customer]
    features:
      - { name: loyalty, type: double }
      - { name: embedding, type: float_list, dimension: 3 }
      - { name: scores, type: double_list }
  - name: product_stats
    entities: [product]
    features:
      - { name: label, type: string }
`,
};

const DAY = 86_400_000;
/** MAX_PASSTHROUGH_COLUMNS of the server's historical.ts (the server package exports no internals). */
const MAX_PASSTHROUGH_COLUMNS = 256;
/** Status messages stay short whatever the input: the quoted part, the length, the rule. */
const MAX_MESSAGE_CHARS = 600;

async function refusal(promise: Promise<unknown>, code: TesseraError['code'], ...fragments: string[]) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the call succeeded').toBeInstanceOf(TesseraError);
  const te = error as TesseraError;
  expect(te.code, te.message).toBe(code);
  for (const fragment of fragments) expect(te.message).toContain(fragment);
  expect(te.message.length, te.message.slice(0, 300)).toBeLessThan(MAX_MESSAGE_CHARS);
  return te;
}

/** Sends a request as raw bytes, so a test can put bytes on the wire that no encoder produces. */
function rawUnary(address: string, method: string, bytes: Buffer): Promise<Buffer> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      `/tessera.v1.FeatureStore/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      (error: ServiceError | null, response?: Buffer) => {
        client.close();
        if (error) reject(fromServiceError(error));
        else resolve(response!);
      },
    );
  });
}

/** `message` encoded, with every occurrence of the ASCII marker `@@` replaced by the bytes `bad` (same length). */
function withBytes(encoded: Uint8Array, bad: readonly number[]): Buffer {
  const buffer = Buffer.from(encoded);
  let at = buffer.indexOf('@@');
  expect(at).toBeGreaterThanOrEqual(0);
  while (at >= 0) {
    buffer.set(bad, at);
    at = buffer.indexOf('@@', at + 2);
  }
  return buffer;
}

describe.each<BackendKind>(['embedded', 'redis-cluster'])('bounded input (%s)', (kind) => {
  let t: TestServer;
  let cleanup: () => void;
  let dataDir: string | undefined;

  beforeAll(async () => {
    const fresh = freshBackend(kind, inject('redisCluster').nodes);
    cleanup = fresh.cleanup;
    dataDir = fresh.backend.kind === 'embedded' ? fresh.backend.dataDir : undefined;
    t = await startTestServer(fresh.backend, { maxBatchRows: 2_000, maxRefsPerRequest: 50 });
    await t.client.apply(definitionsFromYaml(REPO), { author: 'bounds' });
  });
  afterAll(async () => {
    await t[Symbol.asyncDispose]();
    cleanup();
  });

  const writeProducts = (ids: string[], labels?: (string | null)[], target = WriteTarget.WRITE_TARGET_ONLINE) =>
    t.client.write({
      featureView: 'product_stats',
      target,
      columns: {
        product_id: toColumn('string', ids),
        ...(labels ? { label: toColumn('string', labels) } : {}),
      },
      eventTimestamps: toColumn(
        'timestamp',
        ids.map(() => Date.now()),
      ),
    });
  const statusesOf = async (ids: string[]) =>
    (await t.client.getOnlineFeatures({ features: ['product_stats:label'], entities: { product_id: ids } }))
      .statuses[0];
  const loyaltyStatuses = async (ids: number[]) =>
    (
      await t.client.getOnlineFeatures({
        features: ['customer_stats:loyalty'],
        entities: { customer_id: ids.map(BigInt) },
      })
    ).statuses[0];

  describe('status messages quote input at most ~200 characters, then its length', () => {
    const huge = 'x'.repeat(100_000);

    it('refuses a 100 KB feature ref with INVALID_ARGUMENT, not a stalled channel', async () => {
      await refusal(
        t.client.getOnlineFeatures({ features: [huge], entities: { customer_id: [1n] } }),
        'INVALID_ARGUMENT',
        'features[0]',
        '(100000 chars)',
        'MAX_REF_LENGTH',
      );
    });

    it('refuses a 100 KB view name, feature service, column name and registry name the same way', async () => {
      await refusal(
        t.client.write({ featureView: huge, columns: {} }),
        'INVALID_ARGUMENT',
        'feature_view',
        '(100000 chars)',
      );
      await refusal(
        t.client.getOnlineFeatures({ featureService: huge, entities: { customer_id: [1n] } }),
        'INVALID_ARGUMENT',
        'feature_service',
      );
      await refusal(
        t.client.write({
          featureView: 'customer_stats',
          columns: { customer_id: toColumn('int64', [1n]), [huge]: toColumn('double', [1]) },
          eventTimestamps: toColumn('timestamp', [Date.now()]),
        }),
        'INVALID_ARGUMENT',
        'column "xxx',
        '(100000 chars)',
      );
      await refusal(t.client.get('feature_service', huge), 'NOT_FOUND', '(100000 chars)');
    });

    it('refuses more refs than maxRefsPerRequest before resolving any', async () => {
      const refs = Array.from({ length: 51 }, (_, i) => `nope_${i}:x`);
      await refusal(
        t.client.getOnlineFeatures({ features: refs, entities: { customer_id: [1n] } }),
        'INVALID_ARGUMENT',
        '51 refs',
        'maxRefsPerRequest',
      );
    });
  });

  describe('string keys: one limit for both online stores', () => {
    it(`stores and reads a key of exactly ${MAX_STRING_KEY_BYTES} bytes`, async () => {
      const id = 'k'.repeat(MAX_STRING_KEY_BYTES);
      await writeProducts([id], ['fits']);
      expect(await statusesOf([id])).toEqual(['PRESENT']);
    });

    it('refuses longer keys (counted in UTF-8 bytes) on Write and read, naming row and column', async () => {
      for (const id of ['k'.repeat(MAX_STRING_KEY_BYTES + 1), 'ü'.repeat(513), 'k'.repeat(2_000)]) {
        await refusal(
          writeProducts(['ok', id]),
          'INVALID_ARGUMENT',
          'row 1, column product_id',
          'MAX_STRING_KEY_BYTES',
        );
        await refusal(statusesOf(['ok', id]), 'INVALID_ARGUMENT', 'row 1, column product_id', 'MAX_STRING_KEY_BYTES');
      }
      expect(await statusesOf(['ok'])).toEqual(['NOT_FOUND']);
    });

    it('refuses a key whose escaped encoding would not fit the embedded store', async () => {
      const id = '|'.repeat(900);
      await refusal(writeProducts([id]), 'INVALID_ARGUMENT', 'row 0, column product_id', 'MAX_ENTITY_KEY_BYTES');
      await refusal(statusesOf([id]), 'INVALID_ARGUMENT', 'row 0', 'MAX_ENTITY_KEY_BYTES');
    });
  });

  describe('invalid UTF-8 is refused, never merged into U+FFFD', () => {
    const writeBytes = (ids: string[], labels: string[]) =>
      WriteRequest.encode({
        featureView: 'product_stats',
        columns: { product_id: toColumn('string', ids), label: toColumn('string', labels) },
        eventTimestamps: toColumn('timestamp', [Date.now(), Date.now()]),
        target: WriteTarget.WRITE_TARGET_ONLINE,
        durability: 0,
        idempotencyKey: '',
      }).finish();

    it('in a string key of a Write, naming the column and row; nothing is written', async () => {
      const bytes = withBytes(writeBytes(['utf-a', 'utf-b@@'], ['a', 'b']), [0xff, 0xfe]);
      await refusal(
        rawUnary(t.server.address, 'Write', bytes),
        'INVALID_ARGUMENT',
        'column product_id, row 1',
        'UTF-8',
      );
      expect(await statusesOf(['utf-a', 'utf-b\uFFFD\uFFFD'])).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    });

    it('in a string feature value and in a read key', async () => {
      const bytes = withBytes(writeBytes(['utf-c', 'utf-d'], ['fine', 'bad@@']), [0xc3, 0x28]);
      await refusal(rawUnary(t.server.address, 'Write', bytes), 'INVALID_ARGUMENT', 'column label, row 1', 'UTF-8');
      const read = GetOnlineFeaturesRequest.encode({
        features: ['product_stats:label'],
        featureService: '',
        entities: { product_id: toColumn('string', ['@@']) },
        includeEventTimestamps: false,
      }).finish();
      await refusal(
        rawUnary(t.server.address, 'GetOnlineFeatures', withBytes(read, [0xed, 0xa0])),
        'INVALID_ARGUMENT',
        'column product_id, row 0',
      );
    });

    it('accepts a key that really holds U+FFFD (valid UTF-8)', async () => {
      await writeProducts(['real-\uFFFD'], ['ok']);
      expect(await statusesOf(['real-\uFFFD'])).toEqual(['PRESENT']);
    });
  });

  describe('unknown enum numbers name the field and the allowed values', () => {
    const write = (extra: Partial<WriteRequest>) =>
      t.client.write({
        featureView: 'customer_stats',
        columns: { customer_id: toColumn('int64', [900n]), loyalty: toColumn('double', [1]) },
        eventTimestamps: toColumn('timestamp', [Date.now()]),
        ...extra,
      });

    it('refuses durability = 99 and target = 99 and writes nothing', async () => {
      await refusal(
        write({ durability: 99 as Durability }),
        'INVALID_ARGUMENT',
        'durability = 99',
        'DURABILITY_SYNC (2)',
      );
      await refusal(write({ target: 99 as WriteTarget }), 'INVALID_ARGUMENT', 'target = 99', 'WRITE_TARGET_ONLINE (2)');
      expect(await loyaltyStatuses([900])).toEqual(['NOT_FOUND']);
    });

    it('refuses GetHistorical format = 99', async () => {
      const stream = t.client.getHistorical({
        features: ['customer_stats:loyalty'],
        featureService: '',
        format: 99 as HistoricalFormat,
        chunkRows: 0,
        entities: {
          $case: 'rows',
          value: {
            keys: { customer_id: toColumn('int64', [1n]) },
            eventTimestamps: [BigInt(Date.now())],
            passthrough: {},
          },
        },
      });
      await refusal(stream.next(), 'INVALID_ARGUMENT', 'format = 99', 'HISTORICAL_FORMAT_ARROW (2)');
    });
  });

  describe('event times', () => {
    for (const [year, target] of [
      [2299, WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE],
      [9999, WriteTarget.WRITE_TARGET_ONLINE],
    ] as const) {
      it(`refuses an event in ${year} (target ${target}), naming row and rule, so the entity is never frozen`, async () => {
        await refusal(
          t.client.write({
            featureView: 'customer_stats',
            target,
            columns: { customer_id: toColumn('int64', [910n, 911n]), loyalty: toColumn('double', [1, 2]) },
            eventTimestamps: toColumn('timestamp', [Date.now(), Date.UTC(year, 0, 1)]),
          }),
          'INVALID_ARGUMENT',
          'row 1, event timestamp',
          'maxEventTimeSkewMillis',
        );
        expect(await loyaltyStatuses([910, 911])).toEqual(['NOT_FOUND', 'NOT_FOUND']);
      });
    }

    it('accepts an event within the skew and refuses one before 1900', async () => {
      const ok = await t.client.write({
        featureView: 'customer_stats',
        target: WriteTarget.WRITE_TARGET_ONLINE,
        columns: { customer_id: toColumn('int64', [912n]), loyalty: toColumn('double', [1]) },
        eventTimestamps: toColumn('timestamp', [Date.now() + DAY / 2]),
      });
      expect(ok.rowsAppliedOnline).toBe(1n);
      await refusal(
        t.client.write({
          featureView: 'customer_stats',
          target: WriteTarget.WRITE_TARGET_ONLINE,
          columns: { customer_id: toColumn('int64', [913n]), loyalty: toColumn('double', [1]) },
          eventTimestamps: toColumn('timestamp', [Date.UTC(1800, 0, 1)]),
        }),
        'INVALID_ARGUMENT',
        'row 0, event timestamp',
        'earliest event time',
      );
    });
  });

  describe('malformed columns, keys and ranges', () => {
    const embeddingWrite = (embedding: Column) =>
      t.client.write({
        featureView: 'customer_stats',
        target: WriteTarget.WRITE_TARGET_ONLINE,
        columns: { customer_id: toColumn('int64', [920n]), embedding },
        eventTimestamps: toColumn('timestamp', [Date.now()]),
      });

    it('refuses list values beyond the declared lengths instead of dropping them', async () => {
      const column: Column = {
        kind: { $case: 'floatListValues', value: { values: [1, 2, 3, 4, 5, 6, 7], lengths: [3] } },
        nullRows: [],
      };
      await refusal(embeddingWrite(column), 'INVALID_ARGUMENT', 'column embedding', 'add up to 3', 'holds 7');
      expect(await loyaltyStatuses([920])).toEqual(['NOT_FOUND']);
    });

    it('refuses a string value over maxValueBytes and a list over maxListLength, naming row and column', async () => {
      await refusal(
        writeProducts(['big-1', 'big-2'], ['ok', 'é'.repeat(MAX_VALUE_BYTES / 2 + 1)]),
        'INVALID_ARGUMENT',
        'row 1, column label',
        'maxValueBytes',
      );
      expect(await statusesOf(['big-1'])).toEqual(['NOT_FOUND']);
      await refusal(
        t.client.write({
          featureView: 'customer_stats',
          target: WriteTarget.WRITE_TARGET_ONLINE,
          columns: {
            customer_id: toColumn('int64', [921n]),
            scores: toColumn('double_list', [new Float64Array(MAX_LIST_LENGTH + 1)]),
          },
          eventTimestamps: toColumn('timestamp', [Date.now()]),
        }),
        'INVALID_ARGUMENT',
        'row 0, column scores',
        'maxListLength',
      );
      expect(await loyaltyStatuses([921])).toEqual(['NOT_FOUND']);
    });

    it('refuses null_rows past the last row', async () => {
      const column = { ...toColumn('float_list', [Float32Array.from([1, 2, 3])]), nullRows: [5] };
      await refusal(embeddingWrite(column), 'INVALID_ARGUMENT', 'column embedding', 'null_rows names row 5');
      await refusal(
        t.client.getOnlineFeaturesRaw({
          features: ['customer_stats:loyalty'],
          entities: { customer_id: { ...toColumn('int64', [1n]), nullRows: [3] } },
        }),
        'INVALID_ARGUMENT',
        'customer_id',
      );
    });

    it('refuses an int64 key beyond the int64 range', async () => {
      await refusal(
        t.client.getOnlineFeaturesRaw({
          features: ['customer_stats:loyalty'],
          entities: { customer_id: toColumn('string', ['1', '9999999999999999999']) },
        }),
        'INVALID_ARGUMENT',
        'row 1, column customer_id',
        'not an int64',
      );
    });

    it('refuses join key columns the requested features do not use, naming them', async () => {
      await refusal(
        t.client.getOnlineFeatures({
          features: ['customer_stats:loyalty'],
          entities: { customer_id: [1n], custmer_id: [1n] },
        }),
        'INVALID_ARGUMENT',
        'unknown join key column custmer_id',
        'customer_id',
      );
    });

    const historical = (features: string[], keys: Record<string, Column>) =>
      t.client
        .getHistorical({
          features,
          featureService: '',
          format: 0,
          chunkRows: 0,
          entities: { $case: 'rows', value: { keys, eventTimestamps: [BigInt(Date.now())], passthrough: {} } },
        })
        .next();

    // Only the embedded server of this file has an offline store (GetHistorical needs one).
    if (kind === 'embedded')
      it('refuses unknown join keys and oversized keys in GetHistorical inline rows', async () => {
        await refusal(
          historical(['customer_stats:loyalty'], {
            customer_id: toColumn('int64', [1n]),
            custmer_id: toColumn('int64', [1n]),
          }),
          'INVALID_ARGUMENT',
          'unknown join key column custmer_id',
        );
        const passthrough = Object.fromEntries(
          Array.from({ length: MAX_PASSTHROUGH_COLUMNS + 1 }, (_, i) => [`c${i}`, toColumn('int64', [1n])]),
        );
        const tooWide = t.client
          .getHistorical({
            features: ['customer_stats:loyalty'],
            featureService: '',
            format: 0,
            chunkRows: 0,
            entities: {
              $case: 'rows',
              value: {
                keys: { customer_id: toColumn('int64', [1n]) },
                eventTimestamps: [BigInt(Date.now())],
                passthrough,
              },
            },
          })
          .next();
        await refusal(tooWide, 'INVALID_ARGUMENT', `${MAX_PASSTHROUGH_COLUMNS + 1} passthrough columns`);
        await refusal(
          historical(['product_stats:label'], {
            product_id: toColumn('string', ['p'.repeat(MAX_STRING_KEY_BYTES + 1)]),
          }),
          'INVALID_ARGUMENT',
          'row 0, column product_id',
          'MAX_STRING_KEY_BYTES',
        );
      });

    it('refuses a Materialize range that ends before it starts, or ends far in the future', async () => {
      const now = Date.now();
      await refusal(
        t.client.materialize({ featureViews: ['customer_stats'], startMillis: now, endMillis: now - DAY }),
        'INVALID_ARGUMENT',
        'start_time',
        'before end_time',
      );
      await refusal(
        t.client.materialize({ featureViews: ['customer_stats'], startMillis: 0, endMillis: Date.UTC(9999, 0, 1) }),
        'INVALID_ARGUMENT',
        'end_time',
      );
      await refusal(
        t.client.materialize({ featureViews: ['customer_stats'], startMillis: Date.UTC(1800, 0, 1), endMillis: now }),
        'INVALID_ARGUMENT',
        'start_time',
      );
    });
  });

  describe('a Write and its deadline', () => {
    const ROWS = 2_000;
    const base = 1_000_000;
    const at = Date.now() - 1_000;
    const request = (key: string) => ({
      featureView: 'customer_stats',
      columns: {
        customer_id: toColumn(
          'int64',
          Array.from({ length: ROWS }, (_, i) => BigInt(base + i)),
        ),
        loyalty: toColumn(
          'double',
          Array.from({ length: ROWS }, (_, i) => i),
        ),
      },
      eventTimestamps: toColumn(
        'timestamp',
        Array.from({ length: ROWS }, () => at),
      ),
      target: WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE,
      durability: 0,
      idempotencyKey: key,
    });
    const presentOnline = async () =>
      (await loyaltyStatuses(Array.from({ length: ROWS }, (_, i) => base + i)))?.filter((s) => s === 'PRESENT').length;
    /** Offline rows (embedded: in chDB) or, in cluster mode without writers, queued jobs × ROWS (a keyed write is one job of its own). */
    const offlineRows = async (): Promise<number> => {
      if (dataDir === undefined) return (await t.server.writeBehind.stats()).pendingJobs * ROWS;
      // Embedded: drained into chDB in-process; count the view's table there (count() sees duplicates).
      for (let i = 0; i < 200 && (await t.server.writeBehind.stats()).pendingJobs > 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      const executor = ChdbExecutor.open({ path: join(dataDir, 'offline') });
      try {
        const [row] = await executor.queryJson<{ n: string }>(
          `SELECT toString(count()) AS n FROM tessera.fv_customer_stats__v1 WHERE customer_id >= ${base}`,
        );
        return Number(row?.n);
      } finally {
        await executor.close();
      }
    };

    it('is whole or absent after DEADLINE_EXCEEDED, and a retry with the same idempotency key writes it once', async () => {
      const key = `deadline-${kind}`;
      const offlineBefore = await offlineRows();
      const first = await new Promise<WriteResponse | TesseraError>((resolve) =>
        t.client.featureStore.write(request(key), new Metadata(), { deadline: Date.now() + 5 }, (error, response) =>
          resolve(error ? fromServiceError(error) : response),
        ),
      );
      if (first instanceof TesseraError) expect(first.code, first.message).toBe('DEADLINE_EXCEEDED');
      const online = await presentOnline();
      expect([0, ROWS]).toContain(online);
      // The retry waits for a write still in flight, or returns its result, or writes it now: once.
      const retry = await t.client.write(request(key));
      expect(retry.rows).toBe(BigInt(ROWS));
      expect(await presentOnline()).toBe(ROWS);
      expect((await offlineRows()) - offlineBefore).toBe(ROWS);
      const again = await t.client.write(request(key));
      expect(again).toEqual(retry);
      expect((await offlineRows()) - offlineBefore).toBe(ROWS);
    });
  });
});
