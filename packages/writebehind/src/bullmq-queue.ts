/** Names shared by the BullMQ producer, the writers and the dead-letter tools. */
import type { Queue, Worker } from 'bullmq';
import type { WriteBehindStats } from './contract.js';
import type { OfflineJobData } from './offline-job.js';

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** The queue of offline rows on their way to ClickHouse. */
export const OFFLINE_QUEUE = 'offline';

/**
 * BullMQ's key prefix: hash-tagged, so every key of the queue is in one slot (BullMQ's scripts
 * touch several keys at once, which Redis Cluster allows only within one slot).
 */
export function queuePrefix(keyPrefix = ''): string {
  if (keyPrefix.includes('{') || keyPrefix.includes('}')) {
    throw new Error(`key prefix "${keyPrefix}" must not contain braces: the queue's hash tag follows it`);
  }
  return `${keyPrefix}{tessera:writebehind}`;
}

/** Depth, lag and dead letters of the queue (insert figures are the caller's own). */
export async function queueStats(queue: Queue<OfflineJobData>): Promise<WriteBehindStats> {
  const pendingTypes = ['waiting', 'active', 'delayed', 'prioritized'] as const;
  const counts = await queue.getJobCounts(...pendingTypes, 'failed');
  let oldest = Infinity;
  for (const type of pendingTypes) {
    // Oldest first: the head of each list is the job that has waited longest.
    const [job] = await queue.getJobs(type, 0, 0, true);
    if (job !== undefined) oldest = Math.min(oldest, job.data.enqueuedAtMillis);
  }
  return {
    pendingJobs: pendingTypes.reduce((sum, type) => sum + (counts[type] ?? 0), 0),
    pendingRows: undefined,
    oldestPendingMillis: oldest === Infinity ? 0 : Math.max(0, Date.now() - oldest),
    deadLetters: counts['failed'] ?? 0,
    inserted: 0,
    insertMillis: undefined,
  };
}

/** How long a worker may take to finish the jobs in hand when it closes before it is forced, ms. */
export const WORKER_CLOSE_TIMEOUT_MILLIS = 15_000;

/**
 * Closes a worker gracefully (the jobs in hand finish), or forcibly after the timeout — when Redis
 * is gone a graceful close can wait forever. A job cut off that way is taken over by another
 * worker once its lock lapses, and its deduplication token keeps it single.
 */
export async function closeWorker(worker: Worker, timeoutMillis: number = WORKER_CLOSE_TIMEOUT_MILLIS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMillis);
  });
  const outcome = await Promise.race([worker.close().then(() => 'closed' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout')
    await Promise.race([worker.close(true), new Promise((resolve) => setTimeout(resolve, 1_000))]);
}
