/**
 * Materialization in cluster mode, as BullMQ jobs: a Materialize call becomes one job per view and
 * key-hash part, run by the writers (which hold the ClickHouse connection), so it scales across
 * writers and a writer that dies mid-part leaves the part to another (copying again is harmless:
 * the online write is last-writer-wins). The server that took the call follows the jobs' progress
 * and streams it to the client.
 */
import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import type { Cluster } from 'ioredis';
import type { RedisClientSettings } from '@tessera/redis';
import {
  TesseraError,
  stderrLogger,
  type Logger,
  type MaterializeCounts,
  type MaterializeQueue,
  type MaterializeViewProgress,
  type MaterializeViewRequest,
} from '@tessera/core';
import { queuePrefix, type RedisNode } from './bullmq-queue.js';
import { jobQueueConnection, startJobWorker } from './job-worker.js';
import { bullmqTelemetry } from './tracing.js';

export const MATERIALIZE_QUEUE = 'materialize';

/** One part of one view's materialization. */
export interface MaterializeJobData {
  readonly runId: string;
  readonly view: string;
  readonly version: number;
  readonly startMillis: number;
  readonly endMillis: number;
  readonly part: number;
  readonly parts: number;
}

/** The server side: enqueues the parts of a Materialize call and follows them. */
export class BullmqMaterializer implements MaterializeQueue {
  readonly #connection: Cluster;
  readonly #queue: Queue<MaterializeJobData>;
  readonly #parts: number;
  readonly #pollMillis: number;

  constructor(options: {
    nodes: readonly RedisNode[];
    redis?: RedisClientSettings | undefined;
    keyPrefix?: string;
    parts?: number;
    pollMillis?: number;
    /** Where connection errors go (debug). Default: warnings and errors as JSON on stderr. */
    logger?: Logger;
  }) {
    const logger = (options.logger ?? stderrLogger()).child({ component: 'materialize' });
    this.#connection = jobQueueConnection(options.nodes, false, options.redis, logger, 'materialize');
    this.#queue = new Queue<MaterializeJobData>(MATERIALIZE_QUEUE, {
      connection: this.#connection,
      prefix: queuePrefix(options.keyPrefix),
      // Each part's job continues the trace of the Materialize call that queued it.
      telemetry: bullmqTelemetry(),
    });
    this.#queue.on('error', (error: unknown) => logger.debug({ err: error }, 'materialize: queue error'));
    this.#parts = options.parts ?? 8;
    this.#pollMillis = options.pollMillis ?? 200;
  }

  /**
   * Runs `views` (in order, all parts of a view at once) and yields their progress as it moves;
   * throws with the error of a part that failed for good. `signal` stops following (the jobs go on).
   */
  async *run(views: readonly MaterializeViewRequest[], signal?: AbortSignal): AsyncGenerator<MaterializeViewProgress> {
    const runId = randomUUID();
    for (const request of views) {
      const label = `${request.view}@${request.version}`;
      const ids = Array.from({ length: this.#parts }, (_, part) => `${runId}:${label}:${part}`);
      await this.#queue.addBulk(
        ids.map((jobId, part) => ({
          name: label,
          data: { runId, ...request, part, parts: this.#parts },
          opts: {
            jobId,
            attempts: 5,
            backoff: { type: 'exponential', delay: 500 },
            removeOnComplete: { age: 3_600 },
            removeOnFail: { age: 7 * 86_400 },
          },
        })),
      );
      let last = '';
      for (;;) {
        if (signal?.aborted === true) return;
        // States first, then the jobs: a part seen completed has its final counts in the job read
        // after (read the other way round, a part finishing in between counted its partial progress).
        const states = await Promise.all(ids.map((id) => this.#queue.getJobState(id)));
        const jobs = await Promise.all(
          ids.map((id) => this.#queue.getJob(id) as Promise<Job<MaterializeJobData> | undefined>),
        );
        let rowsRead = 0;
        let rowsWritten = 0;
        let completed = 0;
        for (const [i, job] of jobs.entries()) {
          if (job === undefined)
            throw new TesseraError('INTERNAL', `materialize ${label}: job ${ids[i] ?? ''} vanished`);
          const state = states[i];
          // Delayed between attempts; failed only once it will not run again.
          if (state === 'failed') {
            throw new TesseraError(
              'UNAVAILABLE',
              `materialize ${label}: part ${job.data.part + 1} of ${job.data.parts} failed: ${job.failedReason}`,
            );
          }
          const counts = job.progress as Partial<MaterializeCounts> | number;
          if (typeof counts === 'object') {
            rowsRead += counts.rowsRead ?? 0;
            rowsWritten += counts.rowsWritten ?? 0;
          }
          if (state === 'completed') completed++;
        }
        const done = completed === jobs.length;
        const key = `${rowsRead}/${rowsWritten}/${done}`;
        if (key !== last || done) {
          last = key;
          yield { view: request.view, version: request.version, rowsRead, rowsWritten, done };
        }
        if (done) break;
        await new Promise((resolve) => setTimeout(resolve, this.#pollMillis));
      }
    }
  }

  async close(): Promise<void> {
    await this.#queue.close().catch(() => undefined);
    await this.#connection.quit().catch(() => this.#connection.disconnect());
  }
}

/** The writer side: runs materialization parts, reporting counts as job progress. */
export async function startMaterializeWorker(options: {
  readonly nodes: readonly RedisNode[];
  /** Authentication and TLS of every Redis connection (see @tessera/redis). Default: none. */
  readonly redis?: RedisClientSettings | undefined;
  readonly keyPrefix?: string;
  readonly concurrency?: number;
  readonly lockMillis?: number;
  /** On close, how long the parts in hand may take to finish before they are cut off, ms. Default 15,000. */
  readonly closeTimeoutMillis?: number;
  readonly run: (data: MaterializeJobData, report: (counts: MaterializeCounts) => Promise<void>) => Promise<void>;
  /** Where failed parts and connection errors are logged. Default: warnings and errors as JSON on stderr. */
  readonly logger?: Logger;
}): Promise<{ close(): Promise<void> }> {
  const logger = (options.logger ?? stderrLogger()).child({ component: 'materialize' });
  const connection = jobQueueConnection(options.nodes, true, options.redis, logger, 'materialize');
  return startJobWorker<MaterializeJobData>(
    {
      queue: MATERIALIZE_QUEUE,
      connection,
      keyPrefix: options.keyPrefix,
      concurrency: options.concurrency ?? 2,
      lockMillis: options.lockMillis ?? 30_000,
      closeTimeoutMillis: options.closeTimeoutMillis,
      logger,
      what: 'materialize',
    },
    async (job) => {
      try {
        await options.run(job.data, (counts) => job.updateProgress({ ...counts }));
      } catch (error) {
        const { view, version, part, parts } = job.data;
        logger.error(
          { err: error, view, version, part, parts, job: job.id, attempt: job.attemptsMade + 1 },
          `materialize: part ${part + 1} of ${parts} of ${view}@${version} failed`,
        );
        throw error;
      }
    },
  );
}
