/**
 * The consumer of the write-behind queue (`services/writer`, any number of replicas): each job is
 * one insert into ClickHouse with the job id as deduplication token, so a job run twice — a writer
 * killed between its insert and BullMQ's acknowledgement, then the job taken over as stalled —
 * adds its rows once. Failures retry with exponential backoff (set by the producer); after the
 * last attempt the job stays in the failed set: the dead letters. A job that can never succeed
 * (unreadable rows, rows the view cannot hold) goes there at once with its error.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { createRedisCluster, type RedisClientSettings } from '@tessera/redis';
import type { WriteBehindStats } from './contract.js';
import { BullmqDeadLetters } from './bullmq-dead-letters.js';
import { OFFLINE_QUEUE, closeWorker, queuePrefix, queueStats, type RedisNode } from './bullmq-queue.js';
import { stderrLogger, type Logger } from '@tessera/core';
import { backoffMillis, logWriteBehindFailure, type ReportWriteBehindFailure } from './failure-report.js';
import type { OfflineJobData } from './offline-job.js';
import { PoisonJobError, type OfflineStoreSink } from './sink.js';
import { bullmqTelemetry } from './tracing.js';

export interface OfflineWriterOptions {
  readonly nodes: readonly RedisNode[];
  /** Authentication and TLS of every Redis connection (see @tessera/redis). Default: none. */
  readonly redis?: RedisClientSettings | undefined;
  readonly keyPrefix?: string;
  readonly sink: OfflineStoreSink;
  /** Jobs inserted at once by this writer. Default 4. */
  readonly concurrency?: number;
  /** A job whose writer stopped renewing its lock for this long is taken over, ms. Default 30,000. */
  readonly lockMillis?: number;
  /** Where each failed insert attempt is reported. Default: logged (warn, or error for a dead letter). */
  readonly reportFailure?: ReportWriteBehindFailure;
  /** Where failures (inserts, connections) are logged. Default: warnings and errors as JSON on stderr. */
  readonly logger?: Logger;
  /** On close, how long the jobs in hand may take to finish before they are cut off, ms. Default 15,000. */
  readonly closeTimeoutMillis?: number;
}

export interface OfflineWriter {
  readonly deadLetters: BullmqDeadLetters;
  stats(): Promise<WriteBehindStats>;
  /** Finishes the jobs in hand (a rolling update loses nothing), then disconnects. */
  close(): Promise<void>;
}

export async function startOfflineWriter(options: OfflineWriterOptions): Promise<OfflineWriter> {
  // Workers block on Redis: BullMQ requires maxRetriesPerRequest null on their connections.
  const logger = (options.logger ?? stderrLogger()).child({ component: 'writer' });
  const connection = createRedisCluster({
    ...options.redis,
    nodes: options.nodes,
    maxReconnectDelayMillis: 1_000,
    connectTimeoutMillis: 1_000,
    maxRetriesPerRequest: null,
    onError: (error) => logger.warn({ err: error }, 'writer: Redis connection error'),
  });
  const prefix = queuePrefix(options.keyPrefix);
  const { sink } = options;
  const report = options.reportFailure ?? logWriteBehindFailure(logger);
  const worker = new Worker<OfflineJobData>(
    OFFLINE_QUEUE,
    async (job: Job<OfflineJobData>) => {
      const token = job.id;
      if (token === undefined) throw new UnrecoverableError('a job without an id cannot be deduplicated');
      try {
        await sink.insert(job.data, token);
      } catch (error) {
        reportJobFailure(report, job, token, error);
        if (error instanceof PoisonJobError) throw new UnrecoverableError(error.message);
        throw error;
      }
    },
    {
      connection,
      prefix,
      // The job's insert continues the trace of the Write that queued it.
      telemetry: bullmqTelemetry(),
      concurrency: options.concurrency ?? 4,
      lockDuration: options.lockMillis ?? 30_000,
      // A stalled job (its writer died) is run again, never failed for stalling: its token keeps it single.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
      stalledInterval: Math.min(options.lockMillis ?? 30_000, 30_000),
    },
  );
  worker.on('error', (error: unknown) => logger.warn({ err: error }, 'writer: BullMQ worker error'));
  await worker.waitUntilReady();
  const queue = new Queue<OfflineJobData>(OFFLINE_QUEUE, { connection, prefix });
  const deadLetters = new BullmqDeadLetters(queue);
  return {
    deadLetters,
    stats: async () => ({ ...(await queueStats(queue)), inserted: sink.inserted, insertMillis: sink.insertLatency() }),
    close: async () => {
      await closeWorker(worker, options.closeTimeoutMillis);
      await queue.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

/**
 * Reports a failed attempt of a job, with the delay BullMQ will wait before the next one (its
 * exponential backoff: `delay × 2^(attempt−1)`), or as a dead letter after the last attempt.
 * Jobs are independent: one in backoff does not hold up the others.
 */
function reportJobFailure(
  report: ReportWriteBehindFailure,
  job: Job<OfflineJobData>,
  id: string,
  error: unknown,
): void {
  const attempt = job.attemptsMade + 1;
  const attempts = job.opts.attempts ?? 1;
  const backoff = job.opts.backoff;
  const firstMillis = typeof backoff === 'number' ? backoff : (backoff?.delay ?? 0);
  const last = error instanceof PoisonJobError || attempt >= attempts;
  try {
    report({
      view: job.data.view,
      version: job.data.version,
      id,
      rowCount: job.data.rowCount,
      attempt,
      attempts,
      error: error instanceof Error ? error.message : String(error),
      retryInMillis: last ? undefined : backoffMillis(attempt, firstMillis),
    });
  } catch {
    // A reporter that fails must not change the job's outcome.
  }
}

/** The queue's dead letters and figures without consuming jobs (for `tessera dlq` and operators). */
export function openBullmqDeadLetters(
  nodes: readonly RedisNode[],
  keyPrefix?: string,
  redis?: RedisClientSettings,
  logger: Logger = stderrLogger(),
): { deadLetters: BullmqDeadLetters; stats(): Promise<WriteBehindStats>; close(): Promise<void> } {
  const connection = createRedisCluster({
    ...redis,
    nodes,
    enableOfflineQueue: true,
    connectTimeoutMillis: 1_000,
    maxRetriesPerRequest: 2,
    onError: (error) => logger.debug({ err: error }, 'dead letters: Redis connection error'),
  });
  const queue = new Queue<OfflineJobData>(OFFLINE_QUEUE, { connection, prefix: queuePrefix(keyPrefix) });
  return {
    deadLetters: new BullmqDeadLetters(queue),
    stats: () => queueStats(queue),
    close: async () => {
      await queue.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
