import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraClient, TesseraClientError, onlineFeatureRows } from '@tessera/client';
import { definitionsFromYaml, findFreePorts, releasePorts } from '@tessera/testkit';
import { freshBackend, startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** The client's surface shared with the Python and Go clients, against a real (embedded) server. */
let t: TestServer;
let cleanup: () => void;
const HOUR = 3_600_000;
const now = Date.now();

beforeAll(async () => {
  const fresh = freshBackend('embedded', []);
  cleanup = fresh.cleanup;
  t = await startTestServer(fresh.backend);
  await t.client.apply(
    definitionsFromYaml({
      'repo.yaml': `
project: client_surface
entities: [{ name: user, join_keys: [{ name: user_id, type: int64 }] }]
feature_views:
  - name: stats
    entities: [user]
    ttl: 0
    features:
      - { name: score, type: double, min: 0, max: 5 }
      - { name: country, type: string }
      - { name: seen_at, type: timestamp }
`,
    }),
  );
}, 120_000);

afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
  cleanup?.();
});

describe('write(view, rows, options)', () => {
  const rows = [1, 2, 3, 4, 5].map((id) => ({
    user_id: BigInt(id),
    score: id / 2,
    country: id === 3 ? null : 'DE',
    seen_at: new Date(now - id * HOUR),
    event_timestamp: now - 2 * HOUR,
  }));

  it('writes rows in batches, typed by the view, and reads them back with a status per value', async () => {
    const written = await t.client.write('stats', rows, {
      batchRows: 2,
      durability: 'sync',
      idempotencyKey: 'surface-1',
    });
    expect(written).toEqual({
      rows: 5n,
      rowsAppliedOnline: 5n,
      rowsStaleOnline: 0n,
      rowsExcludedLate: 0n,
      rowsExcludedFuture: 0n,
      rowsDuplicateEvents: 0n,
    });
    const got = await t.client.getOnlineFeatures(['stats:score', 'stats:country', 'stats:seen_at'], {
      user_id: [1n, 3n, 99n],
    });
    expect(onlineFeatureRows(got)).toEqual([
      {
        'stats@1:score': { value: 0.5, status: 'PRESENT' },
        'stats@1:country': { value: 'DE', status: 'PRESENT' },
        'stats@1:seen_at': { value: now - HOUR, status: 'PRESENT' },
      },
      {
        'stats@1:score': { value: 1.5, status: 'PRESENT' },
        'stats@1:country': { value: null, status: 'PRESENT' },
        'stats@1:seen_at': { value: now - 3 * HOUR, status: 'PRESENT' },
      },
      {
        'stats@1:score': { value: null, status: 'NOT_FOUND' },
        'stats@1:country': { value: null, status: 'NOT_FOUND' },
        'stats@1:seen_at': { value: null, status: 'NOT_FOUND' },
      },
    ]);
  });

  it('answers a repeated idempotency key with the first result, and refuses it for other rows', async () => {
    const again = await t.client.write('stats', rows, {
      batchRows: 2,
      durability: 'sync',
      idempotencyKey: 'surface-1',
    });
    expect(again.rows).toBe(5n);
    // Same key, other values: refused (a key names one write), and the first values stay.
    const error = (await t.client
      .write(
        'stats',
        rows.map((r) => ({ ...r, score: 4.5 })),
        { batchRows: 2, durability: 'sync', idempotencyKey: 'surface-1' },
      )
      .catch((e: unknown) => e)) as TesseraClientError;
    expect([error.grpcCodeName, error.attempts]).toEqual(['FAILED_PRECONDITION', 1]);
    expect(error.message).toContain('idempotency key "surface-1"');
    const got = await t.client.getOnlineFeatures(['stats:score'], { user_id: [1n] });
    expect(got.values).toEqual([[0.5]]);
  });

  it('takes an unset target and durability for their defaults when it matches a repeated idempotency key', async () => {
    const row = [{ user_id: 31n, score: 1, event_timestamp: now }];
    const first = await t.client.write('stats', row, { idempotencyKey: 'surface-defaults' });
    // A retry from a client that names the defaults is the same write, answered with the first result.
    const again = await t.client.write('stats', row, {
      idempotencyKey: 'surface-defaults',
      durability: 'write_behind',
      target: 'online_and_offline',
    });
    expect(again).toEqual(first);
    const other = (await t.client
      .write('stats', row, { idempotencyKey: 'surface-defaults', durability: 'sync' })
      .catch((e: unknown) => e)) as TesseraClientError;
    expect(other.grpcCodeName).toBe('FAILED_PRECONDITION');
  });

  it('rejects a bad batch whole with a typed error carrying every problem', async () => {
    const error = await t.client
      .write('stats', [
        { user_id: 7n, score: 9, event_timestamp: now },
        { user_id: 8n, score: 7.5, event_timestamp: now },
      ])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TesseraClientError);
    const e = error as TesseraClientError;
    expect([e.code, e.grpcCodeName, e.attempts]).toEqual(['INVALID_ARGUMENT', 'INVALID_ARGUMENT', 1]);
    expect(e.message).toContain('row 0, column score');
    expect(e.problems.map((p) => p.path)).toEqual(['row 0, column score', 'row 1, column score']);
    const got = await t.client.getOnlineFeatures(['stats:score'], { user_id: [7n, 8n] });
    expect(got.statuses).toEqual([['NOT_FOUND', 'NOT_FOUND']]);
  });

  it('refuses a column the view does not have before sending anything, naming it', async () => {
    await expect(t.client.write('stats', [{ user_id: 1n, height: 2, event_timestamp: now }])).rejects.toThrow(
      'Write to stats@1 rejected: column height: unknown column: stats@1 has join keys user_id',
    );
  });

  it('answers NOT_FOUND for an unknown view', async () => {
    const error = (await t.client
      .write('nope', [{ user_id: 1n, event_timestamp: now }])
      .catch((e: unknown) => e)) as TesseraClientError;
    expect([error.grpcCodeName, error.message]).toEqual(['NOT_FOUND', 'Unknown feature view "nope"']);
  });
});

describe('getHistoricalFeatures(entityRows, refs)', () => {
  it('answers an Arrow table, point in time: null before the first event', async () => {
    const table = await t.client.getHistoricalFeatures(
      { keys: { user_id: [1n, 1n, 42n] }, eventTimestamps: [now - HOUR, now - 3 * HOUR, new Date(now)] },
      ['stats:score', 'stats:country'],
    );
    expect(table.numRows).toBe(3);
    expect([...(table.getChild('stats__score') ?? [])]).toEqual([0.5, null, null]);
    expect([...(table.getChild('stats__country') ?? [])]).toEqual(['DE', null, null]);
  });
});

describe('retries and deadlines', () => {
  it('retries reads on UNAVAILABLE a bounded number of times, and a write without an idempotency key never', async () => {
    const [port] = await findFreePorts(1);
    const down = new TesseraClient({
      address: `127.0.0.1:${port}`,
      timeoutMillis: 20_000,
      retry: { maxAttempts: 3, initialBackoffMillis: 1, maxBackoffMillis: 5 },
    });
    try {
      const read = (await down
        .getOnlineFeatures(['stats:score'], { user_id: [1n] })
        .catch((e: unknown) => e)) as TesseraClientError;
      expect([read.grpcCodeName, read.attempts]).toEqual(['UNAVAILABLE', 3]);
      const unkeyed = (await down
        .write({ featureView: 'stats', columns: {} })
        .catch((e: unknown) => e)) as TesseraClientError;
      expect([unkeyed.grpcCodeName, unkeyed.attempts]).toEqual(['UNAVAILABLE', 1]);
      const keyed = (await down
        .write({ featureView: 'stats', columns: {}, idempotencyKey: 'k' })
        .catch((e: unknown) => e)) as TesseraClientError;
      expect([keyed.grpcCodeName, keyed.attempts]).toEqual(['UNAVAILABLE', 3]);
    } finally {
      down.close();
      releasePorts([port!]);
    }
  });

  it('fails a call whose deadline has passed with DEADLINE_EXCEEDED, not retried', async () => {
    const error = (await t.client
      .getOnlineFeatures(['stats:score'], { user_id: [1n] }, { timeoutMillis: 0 })
      .catch((e: unknown) => e)) as TesseraClientError;
    expect([error.grpcCodeName, error.attempts]).toEqual(['DEADLINE_EXCEEDED', 1]);
  });
});
