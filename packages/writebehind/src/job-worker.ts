/**
 * A BullMQ worker of one of Tessera's job queues (materialize parts, SQL view refreshes) on its own
 * Redis Cluster connection: hash-tagged prefix, traces continued from the job, stalled jobs retried
 * up to 10 times, and a close that lets the jobs in hand finish before it cuts them off.
 */
import { Worker, type Job } from 'bullmq';
import type { Cluster } from 'ioredis';
import type { Logger } from '@tessera/core';
import { createRedisCluster, type RedisClientSettings } from '@tessera/redis';
import { closeWorker, queuePrefix, type RedisNode } from './bullmq-queue.js';
import { bullmqTelemetry } from './tracing.js';

/**
 * A Redis Cluster connection of a job queue: `blocking` for a worker (BullMQ waits on it; its
 * errors are background work, logged as warnings), else for the side that enqueues and follows
 * jobs (its errors reach the call that failed; logged at debug). `what` names the queue in logs.
 */
export function jobQueueConnection(
  nodes: readonly RedisNode[],
  blocking: boolean,
  redis: RedisClientSettings | undefined,
  logger: Logger,
  what: string,
): Cluster {
  return createRedisCluster({
    ...redis,
    nodes,
    maxReconnectDelayMillis: 1_000,
    connectTimeoutMillis: 1_000,
    maxRetriesPerRequest: blocking ? null : 2,
    onError: (error) =>
      blocking
        ? logger.warn({ err: error }, `${what}: Redis connection error`)
        : logger.debug({ err: error }, `${what}: Redis connection error`),
  });
}

export interface JobWorkerOptions {
  readonly queue: string;
  /** The worker's blocking connection; closed with the worker. */
  readonly connection: Cluster;
  readonly keyPrefix?: string | undefined;
  readonly concurrency: number;
  readonly lockMillis: number;
  readonly closeTimeoutMillis?: number | undefined;
  /** Where worker errors go (warn), with `what` naming the queue in the message. */
  readonly logger: Logger;
  readonly what: string;
}

/** Starts the worker once it is ready; `close` stops it and its connection. */
export async function startJobWorker<T>(
  options: JobWorkerOptions,
  handle: (job: Job<T>) => Promise<void>,
): Promise<{ close(): Promise<void> }> {
  const { connection } = options;
  const worker = new Worker<T>(options.queue, handle, {
    connection,
    prefix: queuePrefix(options.keyPrefix),
    telemetry: bullmqTelemetry(),
    concurrency: options.concurrency,
    lockDuration: options.lockMillis,
    maxStalledCount: 10,
  });
  worker.on('error', (error: unknown) => options.logger.warn({ err: error }, `${options.what}: BullMQ worker error`));
  await worker.waitUntilReady();
  return {
    close: async () => {
      await closeWorker(worker, options.closeTimeoutMillis);
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
