import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { LmdbIdempotencyStore, LmdbOnlineStore, RedisIdempotencyStore, idempotencyToken } from '../src/index.js';
import type { IdempotencyStore } from '@tessera/core';

const dir = mkdtempSync(join(tmpdir(), 'tessera-idem-'));
const lmdb = new LmdbOnlineStore({ path: dir, sweepIntervalMillis: 0 });
const stores: [string, IdempotencyStore][] = [
  ['LMDB', new LmdbIdempotencyStore(lmdb, 200)],
  ['Redis Cluster', new RedisIdempotencyStore(inject('redisCluster').nodes, `idem-${randomUUID()}:`, 200)],
];

afterAll(async () => {
  for (const [, store] of stores) await store.close();
  await lmdb.close();
  rmSync(dir, { recursive: true, force: true });
});

const RESULT = { rows: '3', rowsAppliedOnline: '2', rowsStaleOnline: '1' };

describe.each(stores)('idempotency keys (%s)', (_, store) => {
  it('claims a new key once; a repeat sees it pending, then done with the result', async () => {
    const key = randomUUID();
    expect(await store.claim(key, 'd1')).toEqual({ kind: 'new' });
    expect(await store.claim(key, 'd1')).toEqual({ kind: 'pending' });
    await store.complete(key, 'd1', RESULT);
    expect(await store.claim(key, 'd1')).toEqual({ kind: 'done', result: RESULT });
    expect(await store.claim(key, 'd2')).toEqual({ kind: 'mismatch' });
  });

  it('releases only its own pending claim, never a recorded result', async () => {
    const key = randomUUID();
    await store.claim(key, 'd1');
    await store.release(key, 'other');
    expect(await store.claim(key, 'd1')).toEqual({ kind: 'pending' });
    await store.release(key, 'd1');
    expect(await store.claim(key, 'd1')).toEqual({ kind: 'new' });
    await store.complete(key, 'd1', RESULT);
    await store.release(key, 'd1');
    expect(await store.claim(key, 'd1')).toEqual({ kind: 'done', result: RESULT });
  });

  it('forgets a result after the window', async () => {
    const key = randomUUID();
    await store.claim(key, 'd1');
    await store.complete(key, 'd1', RESULT);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await store.claim(key, 'd2')).toEqual({ kind: 'new' });
  });
});

describe('idempotency tokens and sweeping', () => {
  it('derive one token per key and request, another for the key reused with another request', () => {
    expect(idempotencyToken('k', 'd1')).toBe(idempotencyToken('k', 'd1'));
    expect(idempotencyToken('k', 'd1')).not.toBe(idempotencyToken('k', 'd2'));
    expect(idempotencyToken('k', 'd1')).not.toBe(idempotencyToken('k2', 'd1'));
  });

  it('sweeps expired LMDB records away', async () => {
    const store = stores[0]![1] as LmdbIdempotencyStore;
    const key = randomUUID();
    await store.claim(key, 'd1');
    await store.complete(key, 'd1', RESULT);
    expect(store.sweep(Date.now() + 1_000)).toBeGreaterThanOrEqual(1);
    expect(store.sweep(Date.now() + 1_000)).toBe(0);
  });
});
