import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { entityKey, viewField } from '@tessera/core';
import type { RegisteredView } from '@tessera/core';
import { LmdbOnlineStore } from '@tessera/online';
import { ChdbExecutor, ClickHouseOfflineStore, qualifiedName, tableName } from '@tessera/offline';
import { LmdbWriteBehind, OfflineStoreSink, formatWriteBehindFailure } from '../src/index.js';
import type { WriteBehindFailure } from '../src/index.js';
import { FaultyExecutor } from './support/faulty-executor.js';
import { doubleFeature, finder, offlineCounts, onlineOf, rows, scoreView } from './support/fixtures.js';

// Real LMDB and real chDB; faults are injected only at the ClickHouse boundary (FaultyExecutor).

const DATABASE = 'wb_lmdb';
const scores = scoreView('wb_scores', 1);
const clicks = scoreView('wb_clicks', 2);
const findView = finder([scores, clicks]);

let dir: string;
let executor: FaultyExecutor;
let offline: ClickHouseOfflineStore;
let store: LmdbOnlineStore;
let lmdbDir: string;
/** Failures the write-behind under test reported (instead of stderr). */
let failures: WriteBehindFailure[];

function counts(v: RegisteredView): Promise<{ rows: number; duplicates: number }> {
  return offlineCounts(executor, DATABASE, v);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-wb-lmdb-'));
  executor = new FaultyExecutor(ChdbExecutor.open({ path: join(dir, 'chdb') }));
  offline = await ClickHouseOfflineStore.open({ executor, database: DATABASE });
  await offline.ensureTables([scores, clicks]);
});

afterAll(async () => {
  await offline.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  executor.mode = 'healthy';
  await executor.command(`TRUNCATE TABLE ${qualifiedName(DATABASE, tableName(scores))}`);
  await executor.command(`TRUNCATE TABLE ${qualifiedName(DATABASE, tableName(clicks))}`);
  failures = [];
  lmdbDir = await mkdtemp(join(dir, 'lmdb-'));
  store = new LmdbOnlineStore({ path: lmdbDir, sweepIntervalMillis: 0 });
});

function writeBehind(options: Partial<ConstructorParameters<typeof LmdbWriteBehind>[0]> = {}): LmdbWriteBehind {
  return new LmdbWriteBehind({
    store,
    sink: new OfflineStoreSink(offline, findView),
    findView,
    backoffMillis: 10,
    reportFailure: (failure) => failures.push(failure),
    ...options,
  });
}

describe('embedded write-behind (LMDB outbox drained into chDB)', () => {
  it('acknowledges a write once online and outbox committed, and drains every row exactly once, merging Writes', async () => {
    const wb = writeBehind({ autoStart: false });
    const writes = Array.from({ length: 40 }, (_, w) => rows(w * 25, 25));
    const results = await Promise.all(writes.map((batch) => wb.write(scores, batch, onlineOf(scores, batch))));
    expect(results.every((r) => r?.applied === 25)).toBe(true);
    // Online at once, before anything reached ClickHouse.
    const online = await store.read([{ key: entityKey(['user'], [999n]), fields: [viewField(1, 1)] }]);
    expect(online[0]?.[0]).not.toBeNull();
    expect(executor.inserts).toBe(0);
    expect((await wb.stats()).pendingRows).toBe(1000);
    const insertsBefore = executor.inserts;
    wb.start();
    expect(await wb.drained()).toBe(true);
    expect(await counts(scores)).toEqual({ rows: 1000, duplicates: 0 });
    // 40 Writes became far fewer inserts.
    expect(executor.inserts - insertsBefore).toBeLessThan(5);
    const stats = await wb.stats();
    expect(stats).toMatchObject({ pendingJobs: 0, pendingRows: 0, deadLetters: 0, oldestPendingMillis: 0 });
    await wb.close();
    await store.close();
  });

  it('keeps each view in its own insert and stamps later Writes with later created_ts', async () => {
    const wb = writeBehind({ autoStart: false });
    await wb.write(scores, rows(1, 1));
    await wb.write(clicks, rows(1, 1));
    const later = { ...rows(1, 1), featureValues: [[42]] };
    await wb.write(scores, later);
    wb.start();
    expect(await wb.drained()).toBe(true);
    const [latest] = await executor.queryJson<{ score: number }>(
      `SELECT score FROM ${qualifiedName(DATABASE, tableName(scores))} FINAL WHERE user_id = 1`,
    );
    expect(latest?.score).toBe(42);
    expect(await counts(clicks)).toEqual({ rows: 1, duplicates: 0 });
    await wb.close();
    await store.close();
  });

  it('replays a claim with the same token after a crash between insert and outbox cleanup: no duplicates', async () => {
    const first = writeBehind({ autoStart: false });
    for (let w = 0; w < 10; w++) await first.write(scores, rows(w * 10, 10));
    // The insert lands, then the process "dies" before it can delete the entries.
    executor.mode = 'lose-answer';
    first.start();
    await expect.poll(() => executor.inserts, { timeout: 10_000 }).toBeGreaterThan(0);
    await first.close(0);
    await store.close();
    executor.mode = 'healthy';
    // Restart on the same LMDB environment.
    store = new LmdbOnlineStore({ path: lmdbDir, sweepIntervalMillis: 0 });
    const second = writeBehind();
    expect(await second.drained()).toBe(true);
    expect(await counts(scores)).toEqual({ rows: 100, duplicates: 0 });
    await second.close();
    await store.close();
  });

  it('retries while ClickHouse is down and loses nothing once it is back', async () => {
    executor.mode = 'down';
    const wb = writeBehind();
    for (let w = 0; w < 5; w++) await wb.write(scores, rows(w * 10, 10));
    await expect.poll(() => executor.refused, { timeout: 10_000 }).toBeGreaterThan(2);
    expect((await wb.stats()).pendingRows).toBe(50);
    executor.mode = 'healthy';
    expect(await wb.drained()).toBe(true);
    expect(await counts(scores)).toEqual({ rows: 50, duplicates: 0 });
    expect((await wb.stats()).deadLetters).toBe(0);
    await wb.close();
    await store.close();
  });

  it('moves entries to the dead letters after the last attempt, with the error, and replays them once', async () => {
    executor.mode = 'down';
    const wb = writeBehind({ attempts: 3 });
    await wb.write(scores, rows(0, 10));
    await expect.poll(async () => (await wb.stats()).deadLetters, { timeout: 10_000 }).toBe(1);
    const [letter] = await wb.deadLetters.list();
    expect(letter).toMatchObject({ view: 'wb_scores', version: 1, rowCount: 10, attempts: 3 });
    expect(letter?.error).toMatch(/ClickHouse is down/);
    expect((await wb.stats()).pendingJobs).toBe(0);
    await expect(wb.deadLetters.replay(letter?.id ?? '')).rejects.toThrow(/ClickHouse is down/);
    expect(await wb.deadLetters.get(letter?.id ?? '')).toBeDefined();
    executor.mode = 'healthy';
    expect(await wb.deadLetters.replay(letter?.id ?? '')).toBe(true);
    expect(await wb.deadLetters.replay(letter?.id ?? '')).toBe(false);
    expect(await counts(scores)).toEqual({ rows: 10, duplicates: 0 });
    await wb.close();
    await store.close();
  });

  it('buries an entry that keeps failing after its attempts and keeps draining the others; a dead letter can be dropped', async () => {
    const wb = writeBehind({ autoStart: false, attempts: 2 });
    await wb.write(scores, rows(0, 5));
    // Rows of more features than the registry's view has (retried: the registry might catch up).
    const poison = scoreView('wb_scores', 1);
    await wb.write(
      { ...poison, features: [doubleFeature('a'), doubleFeature('b')] },
      {
        ...rows(100, 2),
        featureValues: [
          [1, 2],
          [3, 4],
        ],
      },
    );
    await wb.write(scores, rows(5, 5));
    wb.start();
    expect(await wb.drained()).toBe(true);
    expect(await counts(scores)).toEqual({ rows: 10, duplicates: 0 });
    const letters = await wb.deadLetters.list();
    expect(letters).toHaveLength(1);
    expect(letters[0]?.error).toMatch(/2 features, the view has 1/);
    expect(await wb.deadLetters.drop(letters[0]?.id ?? '')).toBe(true);
    expect(await wb.deadLetters.list()).toEqual([]);
    await wb.close();
    await store.close();
  });

  it('keeps other views flowing while one view has no table, dead-letters it after its attempts with the reason, and replays it once', async () => {
    const wb = writeBehind({ attempts: 3, backoffMillis: 800 });
    await wb.write(scores, rows(0, 5));
    await wb.write(clicks, rows(0, 5));
    expect(await wb.drained()).toBe(true);
    // The table of one view disappears (dropped behind the server's back).
    await executor.command(`DROP TABLE ${qualifiedName(DATABASE, tableName(clicks))}`);
    try {
      await wb.write(clicks, rows(100, 4));
      await expect.poll(() => failures.length, { timeout: 10_000 }).toBeGreaterThan(0);
      // clicks waits out its backoff (0.8 s, then 1.6 s): scores, written after it, is not held up.
      await wb.write(scores, rows(5, 5));
      await wb.write(clicks, rows(104, 4));
      await wb.write(scores, rows(10, 5));
      await expect.poll(async () => (await counts(scores)).rows, { timeout: 10_000 }).toBe(15);
      expect((await wb.stats()).deadLetters).toBe(0);
      expect((await wb.stats()).pendingRows).toBe(8);

      await expect.poll(async () => (await wb.stats()).pendingJobs, { timeout: 20_000 }).toBe(0);
      const letters = await wb.deadLetters.list();
      expect(letters.length).toBeGreaterThan(0);
      expect(letters.reduce((sum, l) => sum + l.rowCount, 0)).toBe(8);
      for (const letter of letters) {
        expect(letter).toMatchObject({ view: 'wb_clicks', version: 1, attempts: 3 });
        expect(letter.error).toMatch(/UNKNOWN_TABLE|does not exist/);
      }
      // One report per failed attempt: the retries say when, the last one names the dead letter.
      const first = failures.filter((f) => f.id === letters[0]?.id);
      expect(first.map((f) => f.attempt)).toEqual([1, 2, 3]);
      expect(first.map((f) => f.retryInMillis)).toEqual([800, 1_600, undefined]);
      expect(failures.every((f) => f.view === 'wb_clicks' && f.attempts === 3)).toBe(true);
    } finally {
      await offline.ensureTables([clicks]);
    }
    // Once the table is back, replaying every dead letter inserts its rows once.
    for (const letter of await wb.deadLetters.list()) expect(await wb.deadLetters.replay(letter.id)).toBe(true);
    expect(await wb.deadLetters.list()).toEqual([]);
    expect(await counts(clicks)).toEqual({ rows: 8, duplicates: 0 });
    expect(await counts(scores)).toEqual({ rows: 15, duplicates: 0 });
    await wb.close();
    await store.close();
  });

  it('reports a failure as one line naming the view, the attempt and the next retry or the dead letter', () => {
    const failure: WriteBehindFailure = {
      view: 'clicks',
      version: 2,
      id: 'tok-1',
      rowCount: 7,
      attempt: 2,
      attempts: 5,
      error: 'Table x does not exist\nsecond line',
      retryInMillis: 1_000,
    };
    const retry = formatWriteBehindFailure(failure);
    expect(retry).toMatch(
      /clicks@2 failed \(attempt 2 of 5, 7 rows, id tok-1\): Table x does not exist second line; next retry in 1000 ms/,
    );
    expect(retry).not.toContain('\n');
    const dead = formatWriteBehindFailure({
      ...failure,
      attempt: 5,
      retryInMillis: undefined,
      error: 'e'.repeat(1_000),
    });
    expect(dead).toMatch(/now dead letter tok-1 \(tessera dlq show tok-1\)$/);
    expect(dead).toContain('(1000 chars)');
    expect(dead.length).toBeLessThan(600);
  });

  it('inserts a write with its own token alone and under that token: a repeat (a retry after a crash) lands once', async () => {
    const wb = writeBehind({ autoStart: false });
    await wb.write(scores, rows(0, 5));
    await wb.write(scores, rows(100, 3), undefined, { token: 'idem-a' });
    await wb.write(scores, rows(5, 5));
    await wb.write(scores, rows(100, 3), undefined, { token: 'idem-a' });
    const before = executor.inserts;
    wb.start();
    expect(await wb.drained()).toBe(true);
    expect(await counts(scores)).toEqual({ rows: 13, duplicates: 0 });
    // The two untokened writes merged into one insert; each tokened one went alone.
    expect(executor.inserts - before).toBe(3);
    await wb.close();
    await store.close();
  });

  it('refuses writes once closed, and a write whose online half is invalid commits nothing offline', async () => {
    const wb = writeBehind({ autoStart: false });
    const bad = { batch: { field: viewField(1, 1), ttlMillis: 0, keys: ['x'], rows: [new Uint8Array(2)] } };
    await expect(wb.write(scores, rows(0, 1), bad)).rejects.toThrow();
    expect((await wb.stats()).pendingJobs).toBe(0);
    await wb.close();
    await expect(wb.write(scores, rows(0, 1))).rejects.toThrow(/shutting down/);
    await store.close();
  });
});
