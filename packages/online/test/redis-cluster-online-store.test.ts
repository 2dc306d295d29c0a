import { createServer, type AddressInfo } from 'node:net';
import calculateSlot from 'cluster-key-slot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTesseraError } from '@tessera/core';
import { RedisClusterOnlineStore } from '../src/index.js';
import { describeOnlineStore, packRow, payloadOf } from './online-store-suite.js';
import { freshKeyPrefix, sharedRedisNodes } from './support/shared-redis-cluster.js';

const keyPrefix = freshKeyPrefix();

describeOnlineStore('RedisClusterOnlineStore', {
  create: () => Promise.resolve(new RedisClusterOnlineStore({ nodes: sharedRedisNodes(), keyPrefix })),
  keyExpireTime: (store, key) => (store as RedisClusterOnlineStore).cluster.pexpiretime(keyPrefix + key),
});

describe('RedisClusterOnlineStore', () => {
  let store: RedisClusterOnlineStore;
  beforeAll(() => {
    store = new RedisClusterOnlineStore({ nodes: sharedRedisNodes(), keyPrefix: freshKeyPrefix() });
  });
  afterAll(async () => {
    await store.close();
  });

  it('follows MOVED replies when its slot table is wrong, and repairs the table', async () => {
    await store.ping();
    const cluster = store.cluster;
    const masters = [...new Set(cluster.slots.map((nodes) => nodes[0]))].filter((m) => m !== undefined);
    expect(masters.length).toBeGreaterThan(1);
    const keys = Array.from({ length: 60 }, (_, i) => `{moved:${i}}`);
    // Point every key's slot at a master that does not own it: each command answers MOVED.
    const owners = new Map<number, string>();
    for (const key of keys) {
      const slot = calculateSlot(key); // the key prefix is outside the hash tag;
      const owner = cluster.slots[slot]![0]!;
      owners.set(slot, owner);
      cluster.slots[slot] = [masters.find((m) => m !== owner)!];
    }
    const eventTs = Date.now();
    const result = await store.write({
      field: 'mv.1',
      ttlMillis: 60_000,
      keys,
      rows: keys.map((_, i) => packRow(eventTs, `m${i}`)),
    });
    expect(result).toEqual({ applied: keys.length, stale: 0 });
    for (const slot of owners.keys()) cluster.slots[slot] = [masters.find((m) => m !== owners.get(slot))!];
    const rows = await store.read(keys.map((key) => ({ key, fields: ['mv.1'] })));
    expect(rows.map(([row]) => payloadOf(row))).toEqual(keys.map((_, i) => `m${i}`));
    for (const [slot, owner] of owners) expect(cluster.slots[slot]?.[0]).toBe(owner);
  });

  it('answers UNAVAILABLE quickly when no node can be reached', async () => {
    const port = await unusedPort();
    const unreachable = new RedisClusterOnlineStore({
      nodes: [{ host: '127.0.0.1', port }],
      connectTimeoutMillis: 500,
    });
    try {
      // UNAVAILABLE, not DEADLINE_EXCEEDED: the store gave up on its own, not by waiting out the 10 s deadline.
      const read = unreachable.read([{ key: '{c:1}', fields: ['1.1'] }], { deadlineMillis: Date.now() + 10_000 });
      await expect(read).rejects.toSatisfy((e) => isTesseraError(e) && e.code === 'UNAVAILABLE');
      // Still UNAVAILABLE (not queued, not hanging) while reconnect attempts go on.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await expect(unreachable.ping()).rejects.toSatisfy((e) => isTesseraError(e) && e.code === 'UNAVAILABLE');
    } finally {
      await unreachable.close();
    }
  });

  it('rejects a key prefix that would change the hash tag', () => {
    expect(() => new RedisClusterOnlineStore({ nodes: sharedRedisNodes(), keyPrefix: 'a{b}' })).toThrow(/hash tag/);
  });
});

function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
