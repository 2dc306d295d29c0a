import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/index.js';

function recorder(fail?: (items: number[]) => boolean) {
  const flushes: { key: string; items: number[] }[] = [];
  const flush = async (key: string, items: number[]): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (fail?.(items)) throw new Error(`flush of ${items.join(',')} failed`);
    flushes.push({ key, items });
  };
  return { flushes, flush };
}

describe('GroupCommit', () => {
  it('gathers the items of one key added in one turn into one flush, keys apart, in order', async () => {
    const { flushes, flush } = recorder();
    const group = new GroupCommit<number>(flush, { maxRows: 1_000, maxDelayMillis: 60_000 });
    await Promise.all([group.add('a', 1, 1), group.add('b', 2, 1), group.add('a', 3, 1)]);
    expect(flushes).toEqual(
      expect.arrayContaining([
        { key: 'a', items: [1, 3] },
        { key: 'b', items: [2] },
      ]),
    );
    expect(flushes).toHaveLength(2);
  });

  it('flushes a lone item without waiting, and gathers what arrives behind a flush in flight', async () => {
    let release: () => void = () => undefined;
    const flushes: number[][] = [];
    const group = new GroupCommit<number>(
      async (_, items) => {
        flushes.push(items);
        if (items[0] === 1) await new Promise<void>((resolve) => (release = resolve));
      },
      { maxRows: 1_000, maxDelayMillis: 60_000 },
    );
    const first = group.add('a', 1, 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushes).toEqual([[1]]);
    const behind = [group.add('a', 2, 1), group.add('a', 3, 1)];
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(flushes).toEqual([[1]]);
    release();
    await Promise.all([first, ...behind]);
    expect(flushes).toEqual([[1], [2, 3]]);
  });

  it('flushes what waits behind a slow flush once the delay bound passes', async () => {
    const flushes: number[][] = [];
    const group = new GroupCommit<number>(
      async (_, items) => {
        flushes.push(items);
        if (items[0] === 1) await new Promise((resolve) => setTimeout(resolve, 200));
      },
      { maxRows: 1_000, maxDelayMillis: 20 },
    );
    const first = group.add('a', 1, 1);
    await new Promise((resolve) => setImmediate(resolve));
    await group.add('a', 2, 1);
    expect(flushes).toEqual([[1], [2]]);
    await first;
  });

  it('flushes at once when a buffer reaches its row limit', async () => {
    const { flushes, flush } = recorder();
    const group = new GroupCommit<number>(flush, { maxRows: 10, maxDelayMillis: 60_000 });
    // 4 + 6 rows reach the limit: flushed without waiting the minute.
    await Promise.all([group.add('a', 1, 4), group.add('a', 2, 6)]);
    expect(flushes).toEqual([{ key: 'a', items: [1, 2] }]);
    const third = group.add('a', 3, 1);
    expect(group.buffered).toBe(1);
    await group.close();
    await third;
    expect(flushes).toEqual([
      { key: 'a', items: [1, 2] },
      { key: 'a', items: [3] },
    ]);
  });

  it('rejects every add of a failed flush with its error, and the next buffer starts afresh', async () => {
    const { flushes, flush } = recorder((items) => items.includes(13));
    const group = new GroupCommit<number>(flush, { maxRows: 1_000, maxDelayMillis: 5 });
    const results = await Promise.allSettled([group.add('a', 12, 1), group.add('a', 13, 1)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toContain('flush of 12,13 failed');
    await group.add('a', 14, 1);
    expect(flushes).toEqual([{ key: 'a', items: [14] }]);
  });

  it('on close flushes what is buffered, waits for flushes in flight, and refuses later adds', async () => {
    const { flushes, flush } = recorder();
    const group = new GroupCommit<number>(flush, { maxRows: 1_000, maxDelayMillis: 60_000 });
    const pending = [group.add('a', 1, 1), group.add('b', 2, 1)];
    await group.close();
    await Promise.all(pending);
    expect(flushes).toHaveLength(2);
    await expect(group.add('a', 3, 1)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
