/**
 * The refresh of SQL views in cluster mode (docs/design/window-aggregations.md §5.1), as BullMQ job
 * schedulers: one repeatable job per SQL view version (`every` = its period, `offset` = its delay,
 * so a tick T falls `delay` after a period ends), in the hash-tagged queue prefix of the other
 * queues. Servers keep the schedulers in step with the registry (`sync`, idempotent: any server may
 * run it after any apply); the writers run the jobs. A tick's time T is part of the job (its
 * scheduled time), so a retried job computes the same interval under the same deduplication token.
 */
import type { Job } from 'bullmq';
import { Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import type { RedisClientSettings } from '@tessera/redis';
import { stderrLogger, type Logger } from '@tessera/core';
import { queuePrefix, type RedisNode } from './bullmq-queue.js';
import { jobQueueConnection, startJobWorker } from './job-worker.js';
import { bullmqTelemetry } from './tracing.js';

export const SQL_REFRESH_QUEUE = 'sql-refresh';

/** One tick of one SQL view version. */
export interface SqlRefreshJobData {
  readonly view: string;
  readonly version: number;
}

/** The schedule of one SQL view version, as the registry holds it. */
export interface SqlRefreshSchedule {
  readonly view: string;
  readonly version: number;
  readonly everyMillis: number;
  readonly delayMillis: number;
}

/** The scheduler id of a view version: one scheduler each. */
export function sqlRefreshSchedulerId(view: string, version: number): string {
  return `sql:${view}@${version}`;
}

/** The server side: keeps one job scheduler per SQL view version, and no other. */
export class BullmqSqlRefreshScheduler {
  readonly #connection: Cluster;
  readonly #queue: Queue<SqlRefreshJobData>;

  constructor(options: {
    readonly nodes: readonly RedisNode[];
    readonly redis?: RedisClientSettings | undefined;
    readonly keyPrefix?: string;
    readonly logger?: Logger;
  }) {
    const logger = (options.logger ?? stderrLogger()).child({ component: 'sql-refresh' });
    this.#connection = jobQueueConnection(options.nodes, false, options.redis, logger, 'sql refresh');
    this.#queue = new Queue<SqlRefreshJobData>(SQL_REFRESH_QUEUE, {
      connection: this.#connection,
      prefix: queuePrefix(options.keyPrefix),
      telemetry: bullmqTelemetry(),
    });
    this.#queue.on('error', (error: unknown) => logger.debug({ err: error }, 'sql refresh: queue error'));
  }

  /**
   * Makes the schedulers exactly `schedules`: upserts each (a changed schedule is updated in place)
   * and removes those of view versions no longer listed. Returns the ids kept.
   */
  async sync(schedules: readonly SqlRefreshSchedule[]): Promise<string[]> {
    const ids = new Set<string>();
    for (const s of schedules) {
      const id = sqlRefreshSchedulerId(s.view, s.version);
      ids.add(id);
      await this.#queue.upsertJobScheduler(
        id,
        { every: s.everyMillis, offset: s.delayMillis % s.everyMillis },
        {
          name: id,
          data: { view: s.view, version: s.version },
          opts: {
            attempts: 5,
            backoff: { type: 'exponential', delay: 1_000 },
            removeOnComplete: { age: 86_400 },
            removeOnFail: { age: 7 * 86_400 },
          },
        },
      );
    }
    // Bounded: at most one scheduler per SQL view version the registry ever listed.
    for (const scheduler of await this.#queue.getJobSchedulers(0, 10_000)) {
      const id = scheduler.id ?? scheduler.key;
      if (id.startsWith('sql:') && !ids.has(id)) await this.#queue.removeJobScheduler(id);
    }
    return [...ids];
  }

  /** The scheduler ids now in the queue (for tests and `tessera queue`). */
  async schedulerIds(): Promise<string[]> {
    return (await this.#queue.getJobSchedulers(0, 10_000)).map((s) => s.id ?? s.key);
  }

  async close(): Promise<void> {
    await this.#queue.close().catch(() => undefined);
    await this.#connection.quit().catch(() => this.#connection.disconnect());
  }
}

/**
 * The scheduled time of a tick: `repeat:<scheduler id>:<millis>` is the id BullMQ gives each
 * scheduled job; else its creation time plus its delay. Retries of a job keep it.
 */
export function tickMillisOf(job: Pick<Job, 'id' | 'timestamp' | 'opts'>): number {
  const match = /:(\d+)$/.exec(job.id ?? '');
  if (match !== null) return Number(match[1]);
  return job.timestamp + (job.opts.delay ?? 0);
}

/** The writer side: runs SQL view ticks. `run` computes and copies the tick's interval. */
export async function startSqlRefreshWorker(options: {
  readonly nodes: readonly RedisNode[];
  readonly redis?: RedisClientSettings | undefined;
  readonly keyPrefix?: string;
  readonly concurrency?: number;
  readonly lockMillis?: number;
  readonly closeTimeoutMillis?: number;
  readonly run: (data: SqlRefreshJobData, tickMillis: number) => Promise<void>;
  readonly logger?: Logger;
}): Promise<{ close(): Promise<void> }> {
  const logger = (options.logger ?? stderrLogger()).child({ component: 'sql-refresh' });
  const connection = jobQueueConnection(options.nodes, true, options.redis, logger, 'sql refresh');
  return startJobWorker<SqlRefreshJobData>(
    {
      queue: SQL_REFRESH_QUEUE,
      connection,
      keyPrefix: options.keyPrefix,
      concurrency: options.concurrency ?? 1,
      lockMillis: options.lockMillis ?? 60_000,
      closeTimeoutMillis: options.closeTimeoutMillis,
      logger,
      what: 'sql refresh',
    },
    async (job) => {
      const tick = tickMillisOf(job);
      try {
        await options.run(job.data, tick);
      } catch (error) {
        logger.error(
          { err: error, view: job.data.view, version: job.data.version, tick, attempt: job.attemptsMade + 1 },
          `sql refresh: tick ${new Date(tick).toISOString()} of ${job.data.view}@${job.data.version} failed`,
        );
        throw error;
      }
    },
  );
}
