import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  EXCLUSION_LATE,
  EXCLUSION_NONE,
  compileAggregationPlan,
  encodeEventRecord,
  eventRecordLayout,
  type OfflineBatch,
  type RegisteredView,
} from '@tessera/core';
import { LmdbOnlineStore } from '@tessera/online';
import { BullmqWriteBehind, OFFLINE_QUEUE, decodeOfflineJob, queuePrefix } from '../src/index.js';
import type { OfflineJobData, OnlineWrite } from '../src/index.js';
import { onlineOf, rows, scoreView } from './support/fixtures.js';

// Real Redis Cluster and BullMQ; the online store is the (real) embedded one, which folds events,
// so the test sees what a BullMQ job carries once the online fold has answered (design §1.6).
const { nodes } = inject('redisCluster');
let dir: string;
let online: LmdbOnlineStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-wb-gen-'));
  online = new LmdbOnlineStore({ path: dir, sweepIntervalMillis: 0 });
});
afterAll(async () => {
  await online.close();
  await rm(dir, { recursive: true, force: true });
});

const plan = compileAggregationPlan([
  { function: 'count', input: null, windowMillis: 3_600_000, hopMillis: 300_000, n: 0, precision: 0 },
]);

describe('BullMQ write-behind of an event view', () => {
  it('writes online first and queues each event’s online_gen (0 for the excluded row)', async () => {
    const view: RegisteredView = { ...scoreView('wb_gen', 900), kind: 'events' };
    const keyPrefix = `wbgen-${randomUUID()}:`;
    const producer = new BullmqWriteBehind({ nodes, keyPrefix, online, attempts: 1, backoffMillis: 20 });
    const connection = new Cluster(nodes.map(({ host, port }) => ({ host, port })));
    const queue = new Queue<OfflineJobData>(OFFLINE_QUEUE, { connection, prefix: queuePrefix(keyPrefix) });
    try {
      const base = rows(0, 3);
      const acceptedAt = (base.eventTsMillis[2] as number) + 1000;
      const offline: OfflineBatch = {
        ...base,
        fingerprints: new Uint8Array(48).map((_, i) => i >> 4),
        exclusions: Uint8Array.of(EXCLUSION_NONE, EXCLUSION_LATE, EXCLUSION_NONE),
      };
      const plainWrite = onlineOf(view, base);
      const layout = eventRecordLayout(plan);
      const fp = (row: number) => (offline.fingerprints as Uint8Array).subarray(row * 16, row * 16 + 16);
      const write: OnlineWrite = {
        batch: {
          ...plainWrite.batch,
          events: {
            plan,
            generation: 1,
            acceptedAtMillis: acceptedAt,
            latenessMillis: 3_600_000,
            retentionMillis: 0,
            entities: [0, 2],
            records: [0, 2].map((row) => encodeEventRecord(layout, base.eventTsMillis[row] as number, fp(row), [])),
          },
        },
        eventRows: [0, 2],
      };
      const first = await producer.write(view, offline, write);
      expect([...(first?.eventGenerations ?? [])]).toEqual([1, 1]);
      const again = await producer.write(view, offline, write);
      expect(again?.duplicateEvents).toBe(2);
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
      const generations = jobs.map((job) => [...(decodeOfflineJob(job.data, view).onlineGenerations ?? [])]).flat();
      // Both writes' rows (one job, or one per write): every copy answers generation 1, the excluded row 0.
      expect(generations).toEqual([1, 0, 1, 1, 0, 1]);
    } finally {
      await producer.close();
      await queue.close();
      await connection.quit();
    }
  });
});
