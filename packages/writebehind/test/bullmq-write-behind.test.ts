import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { viewField, entityKey } from '@tessera/core';
import { RedisClusterOnlineStore } from '@tessera/online';
import { ChdbExecutor, ClickHouseOfflineStore, qualifiedName, tableName } from '@tessera/offline';
import {
  BullmqWriteBehind,
  OFFLINE_QUEUE,
  OfflineStoreSink,
  encodeOfflineJob,
  openBullmqDeadLetters,
  queuePrefix,
  startOfflineWriter,
} from '../src/index.js';
import type { OfflineJobData, OfflineWriter, WriteBehindFailure } from '../src/index.js';
import { FaultyExecutor } from './support/faulty-executor.js';
import { finder, offlineCounts, onlineOf, rows, scoreView } from './support/fixtures.js';

// Real Redis Cluster (the run's shared 6-node cluster), real BullMQ, real chDB. Each test has its
// own key prefix (so its own queue) and its own view (so its own table). Faults are injected only
// at the ClickHouse boundary (FaultyExecutor).

const DATABASE = 'wb_bullmq';
const { nodes } = inject('redisCluster');

let dir: string;
let executor: FaultyExecutor;
let offline: ClickHouseOfflineStore;
let online: RedisClusterOnlineStore;
const closers: (() => Promise<void>)[] = [];
let nextViewId = 100;
/** Failures the writers under test reported (instead of stderr). */
const failures: WriteBehindFailure[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-wb-bullmq-'));
  executor = new FaultyExecutor(ChdbExecutor.open({ path: join(dir, 'chdb') }));
  offline = await ClickHouseOfflineStore.open({ executor, database: DATABASE });
  online = new RedisClusterOnlineStore({ nodes, keyPrefix: `wb-${randomUUID()}:` });
});

afterEach(async () => {
  executor.mode = 'healthy';
  for (const close of closers.splice(0).reverse()) await close();
});

afterAll(async () => {
  await online.close();
  await offline.close();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh view and queue, a producer and (unless told otherwise) one writer. */
async function setup(options: { attempts?: number; writer?: boolean } = {}) {
  const view = scoreView(`wb_view_${nextViewId}`, nextViewId++);
  await offline.ensureTables([view]);
  const keyPrefix = `wb-${randomUUID()}:`;
  const producer = new BullmqWriteBehind({
    nodes,
    keyPrefix,
    online,
    attempts: options.attempts ?? 20,
    backoffMillis: 20,
  });
  closers.push(() => producer.close());
  const sink = new OfflineStoreSink(offline, finder([view]));
  const startWriter = async (): Promise<OfflineWriter> => {
    const writer = await startOfflineWriter({
      nodes,
      keyPrefix,
      sink,
      concurrency: 2,
      reportFailure: (failure) => failures.push(failure),
    });
    closers.push(() => writer.close());
    return writer;
  };
  const writer = options.writer === false ? undefined : await startWriter();
  return { view, keyPrefix, producer, writer, startWriter };
}

async function until(check: () => Promise<boolean>, timeoutMillis = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('write-behind over BullMQ on the Redis Cluster', () => {
  it('acknowledges after the job is in Redis, groups concurrent Writes into few jobs, and inserts every row once', async () => {
    const { view, producer, startWriter } = await setup({ writer: false });
    const writes = Array.from({ length: 100 }, (_, w) => rows(w * 10, 10));
    const results = await Promise.all(writes.map((batch) => producer.write(view, batch, onlineOf(view, batch))));
    expect(results.every((r) => r?.applied === 10)).toBe(true);
    // Acknowledged: online now, offline in the queue (no writer runs yet).
    const read = await online.read([{ key: entityKey(['user'], [999n]), fields: [viewField(view.id, 1)] }]);
    expect(read[0]?.[0]).not.toBeNull();
    const queued = await producer.stats();
    expect(queued.pendingJobs).toBeGreaterThan(0);
    expect(queued.pendingJobs).toBeLessThan(100);
    expect(await offlineCounts(executor, DATABASE, view)).toEqual({ rows: 0, duplicates: 0 });
    const writer = await startWriter();
    await until(async () => (await producer.stats()).pendingJobs === 0);
    expect(await offlineCounts(executor, DATABASE, view)).toEqual({ rows: 1000, duplicates: 0 });
    const stats = await writer.stats();
    expect(stats.inserted).toBe(queued.pendingJobs);
    expect(stats.insertMillis?.count).toBe(queued.pendingJobs);
    expect(stats.deadLetters).toBe(0);
  });

  it('retries while ClickHouse is down and inserts once when it is back', async () => {
    const { view, producer } = await setup();
    executor.mode = 'down';
    for (let w = 0; w < 5; w++) await producer.write(view, rows(w * 10, 10));
    await until(() => Promise.resolve(executor.refused >= 5));
    expect((await producer.stats()).pendingJobs).toBeGreaterThan(0);
    executor.mode = 'healthy';
    await until(async () => (await producer.stats()).pendingJobs === 0);
    expect(await offlineCounts(executor, DATABASE, view)).toEqual({ rows: 50, duplicates: 0 });
    expect((await producer.stats()).deadLetters).toBe(0);
  });

  it('runs a job again with the same token when the insert landed but its answer was lost: no duplicates', async () => {
    const { view, producer } = await setup();
    executor.mode = 'lose-answer';
    await producer.write(view, rows(0, 20));
    await until(() => Promise.resolve(executor.inserts >= 2));
    executor.mode = 'healthy';
    await until(async () => (await producer.stats()).pendingJobs === 0);
    expect(executor.inserts).toBeGreaterThanOrEqual(3);
    expect(await offlineCounts(executor, DATABASE, view)).toEqual({ rows: 20, duplicates: 0 });
  });

  it('makes a job a dead letter after its last attempt, with the error; replay inserts it once; drop deletes', async () => {
    const { view, keyPrefix, producer } = await setup({ attempts: 3 });
    executor.mode = 'down';
    await producer.write(view, rows(0, 10));
    await producer.write(view, rows(10, 10));
    await until(async () => (await producer.stats()).deadLetters === 2);
    const dlq = openBullmqDeadLetters(nodes, keyPrefix);
    closers.push(() => dlq.close());
    const letters = await dlq.deadLetters.list();
    expect(letters).toHaveLength(2);
    for (const letter of letters) {
      expect(letter).toMatchObject({ view: view.name, version: 1, rowCount: 10, attempts: 3 });
      expect(letter.error).toMatch(/ClickHouse is down/);
    }
    expect((await dlq.stats()).pendingJobs).toBe(0);
    executor.mode = 'healthy';
    const [first, second] = letters;
    expect(await dlq.deadLetters.replay(first?.id ?? '')).toBe(true);
    expect(await dlq.deadLetters.drop(second?.id ?? '')).toBe(true);
    expect(await dlq.deadLetters.drop(second?.id ?? '')).toBe(false);
    await until(async () => (await producer.stats()).pendingJobs === 0 && (await producer.stats()).deadLetters === 0);
    expect(await offlineCounts(executor, DATABASE, view)).toEqual({ rows: 10, duplicates: 0 });
    expect(await dlq.deadLetters.get(first?.id ?? '')).toBeUndefined();
  });

  it('sends a poison job to the dead letters at once with its error, and keeps inserting the others', async () => {
    const { view, keyPrefix, producer } = await setup();
    const connection = new Cluster(nodes.map(({ host, port }) => ({ host, port })));
    const queue = new Queue<OfflineJobData>(OFFLINE_QUEUE, { connection, prefix: queuePrefix(keyPrefix) });
    closers.push(async () => {
      await queue.close();
      await connection.quit();
    });
    const good = encodeOfflineJob(view, [{ batch: rows(0, 5), createdTsMicros: 1n }]);
    await queue.add('poison', { ...good, rowCount: 99 }, { jobId: randomUUID(), attempts: 10, removeOnFail: false });
    await producer.write(view, rows(5, 5));
    await until(async () => {
      const stats = await producer.stats();
      return stats.pendingJobs === 0 && stats.deadLetters === 1;
    });
    const [letter] = await producer.deadLetters.list();
    expect(letter?.attempts).toBe(1);
    expect(letter?.error).toMatch(/not a batch of 99 rows/);
    expect(await offlineCounts(executor, DATABASE, view)).toEqual({ rows: 5, duplicates: 0 });
  });

  it('keeps inserting other views while one view has no table; its job becomes a dead letter with the reason, each attempt reported', async () => {
    const gone = scoreView(`wb_view_${nextViewId}`, nextViewId++);
    const kept = scoreView(`wb_view_${nextViewId}`, nextViewId++);
    await offline.ensureTables([gone, kept]);
    const keyPrefix = `wb-${randomUUID()}:`;
    const producer = new BullmqWriteBehind({ nodes, keyPrefix, online, attempts: 3, backoffMillis: 300 });
    closers.push(() => producer.close());
    const writer = await startOfflineWriter({
      nodes,
      keyPrefix,
      sink: new OfflineStoreSink(offline, finder([gone, kept])),
      concurrency: 1,
      reportFailure: (failure) => failures.push(failure),
    });
    closers.push(() => writer.close());
    await executor.command(`DROP TABLE ${qualifiedName(DATABASE, tableName(gone))}`);
    try {
      await producer.write(gone, rows(0, 6));
      await until(() => Promise.resolve(failures.some((f) => f.view === gone.name)));
      // With one job at a time, the other view's jobs still go in while the failing one waits.
      for (let w = 0; w < 3; w++) await producer.write(kept, rows(w * 10, 10));
      await until(async () => (await offlineCounts(executor, DATABASE, kept)).rows === 30);
      expect((await producer.stats()).deadLetters).toBe(0);
      await until(async () => (await producer.stats()).deadLetters === 1);
      const [letter] = await producer.deadLetters.list();
      expect(letter).toMatchObject({ view: gone.name, rowCount: 6, attempts: 3 });
      expect(letter?.error).toMatch(/UNKNOWN_TABLE|does not exist/);
      const reported = failures.filter((f) => f.view === gone.name);
      expect(reported.map((f) => [f.attempt, f.attempts, f.retryInMillis])).toEqual([
        [1, 3, 300],
        [2, 3, 600],
        [3, 3, undefined],
      ]);
      expect(reported.every((f) => f.id === letter?.id && f.rowCount === 6)).toBe(true);
    } finally {
      await offline.ensureTables([gone]);
    }
    const [letter] = await producer.deadLetters.list();
    expect(await producer.deadLetters.replay(letter?.id ?? '')).toBe(true);
    await until(async () => (await producer.stats()).pendingJobs === 0 && (await producer.stats()).deadLetters === 0);
    expect(await offlineCounts(executor, DATABASE, gone)).toEqual({ rows: 6, duplicates: 0 });
  });

  it('gives a write with its own token a job under that id: repeating it adds nothing', async () => {
    const { view, producer } = await setup();
    await producer.write(view, rows(0, 4), undefined, { token: 'idem-b' });
    await producer.write(view, rows(0, 4), undefined, { token: 'idem-b' });
    await producer.write(view, rows(4, 4));
    await until(async () => (await producer.stats()).pendingJobs === 0);
    expect(await offlineCounts(executor, DATABASE, view)).toEqual({ rows: 8, duplicates: 0 });
  });

  it('refuses a write with UNAVAILABLE, in bounded time, when the queue cannot store it', async () => {
    const view = scoreView('wb_unreachable', 999);
    const producer = new BullmqWriteBehind({
      nodes: [{ host: '127.0.0.1', port: 1 }],
      online,
      enqueueTimeoutMillis: 300,
    });
    closers.push(() => producer.close());
    await expect(producer.write(view, rows(0, 1))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
