import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LmdbOnlineStore } from '../src/index.js';
import { describeOnlineStore, packRow, payloadOf } from './online-store-suite.js';

const directories: string[] = [];
function freshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'tessera-lmdb-'));
  directories.push(directory);
  return directory;
}
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

describeOnlineStore('LmdbOnlineStore', {
  create: () => Promise.resolve(new LmdbOnlineStore({ path: freshDirectory(), sweepIntervalMillis: 0 })),
  collectExpired: (store) => {
    (store as LmdbOnlineStore).sweep();
    return Promise.resolve();
  },
});

describe('LmdbOnlineStore', () => {
  it('keeps its rows across a reopen', async () => {
    const path = freshDirectory();
    const first = new LmdbOnlineStore({ path });
    await first.write({ field: '1.1', ttlMillis: 0, keys: ['{c:1}'], rows: [packRow(1, 'kept')] });
    await first.close();
    const second = new LmdbOnlineStore({ path });
    const [[row] = []] = await second.read([{ key: '{c:1}', fields: ['1.1'] }]);
    expect(payloadOf(row)).toBe('kept');
    await second.close();
  });

  it('sweeps only the rows whose retention deadline passed', async () => {
    const store = new LmdbOnlineStore({ path: freshDirectory(), sweepIntervalMillis: 0 });
    const now = Date.now();
    await store.write({
      field: 'a.1',
      ttlMillis: 1_000,
      keys: ['{c:1}', '{c:2}'],
      rows: [packRow(now, 'a'), packRow(now + 5_000, 'b')],
    });
    expect(store.sweep(now + 1_999)).toBe(0);
    expect(store.sweep(now + 2_000)).toBe(1);
    const rows = await store.read([
      { key: '{c:1}', fields: ['a.1'] },
      { key: '{c:2}', fields: ['a.1'] },
    ]);
    expect(rows.map(([row]) => payloadOf(row))).toEqual([null, 'b']);
    // A replaced row is swept by its new deadline, not its old one.
    await store.write({ field: 'a.1', ttlMillis: 1_000, keys: ['{c:2}'], rows: [packRow(now + 60_000, 'c')] });
    expect(store.sweep(now + 7_000)).toBe(0);
    await store.close();
  });

  it('answers UNAVAILABLE once closed', async () => {
    const store = new LmdbOnlineStore({ path: freshDirectory() });
    await store.close();
    await expect(store.ping()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
