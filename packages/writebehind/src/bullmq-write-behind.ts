/**
 * Write-behind over BullMQ on the Redis Cluster (cluster mode). The server buffers the offline rows
 * of each view version for a few milliseconds (group commit), adds one job per buffer and answers
 * the Writes of that buffer only once Redis holds the job (and, with replicated durability, once a
 * replica does). Writers (`startOfflineWriter`) insert each job with its id as the deduplication token.
 *
 * All queue keys share one hash tag, so BullMQ's multi-key scripts work in cluster mode; the queue
 * then lives on one master, which is what bounds its throughput (see bench/README.md).
 */
import { randomUUID } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Cluster } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { SpanKind, SpanStatusCode, context, trace, type Context, type Link } from '@opentelemetry/api';
import {
  TesseraError,
  nowMicros,
  withOnlineGenerations,
  type OfflineBatch,
  type OnlineStore,
  type OnlineWriteResult,
  type RegisteredView,
} from '@tessera/core';
import { createRedisCluster, waitForReplicas, type RedisClientSettings } from '@tessera/redis';
import { stderrLogger, type Logger } from '@tessera/core';
import type { OnlineWrite, WriteBehind, WriteBehindOptions, WriteBehindStats } from './contract.js';
import { GroupCommit, type GroupCommitLimits } from './group-commit.js';
import { encodeOfflineJob, type AcceptedBatch, type OfflineJobData } from './offline-job.js';
import { BullmqDeadLetters } from './bullmq-dead-letters.js';
import { queuePrefix, queueStats, OFFLINE_QUEUE, type RedisNode } from './bullmq-queue.js';
import { bullmqTelemetry, tracer } from './tracing.js';

export interface BullmqWriteBehindOptions {
  readonly nodes: readonly RedisNode[];
  /** Authentication and TLS of every Redis connection (see @tessera/redis). Default: none. */
  readonly redis?: RedisClientSettings | undefined;
  /** Prepended to the queue's keys, as the online store's `keyPrefix`. Default ''. */
  readonly keyPrefix?: string;
  readonly online: OnlineStore;
  /** Group commit: at most 5,000 rows per job, and at most 20 ms behind a job in flight. */
  readonly groupCommit?: Partial<GroupCommitLimits>;
  /** Insert attempts of a job before it becomes a dead letter. Default 12. */
  readonly attempts?: number;
  /** First retry delay, doubled on every attempt, ms. Default 500 (12 attempts span ~17 minutes). */
  readonly backoffMillis?: number;
  /** How long adding a job may keep retrying through a failover, ms. Default 5,000. */
  readonly enqueueTimeoutMillis?: number;
  /**
   * Where connection errors and enqueue retries are logged (at debug: a Write that fails answers
   * UNAVAILABLE to its client). Default: warnings and errors as JSON on stderr.
   */
  readonly logger?: Logger;
}

interface Item {
  readonly view: RegisteredView;
  readonly accepted: AcceptedBatch;
  readonly replicas: number;
  /** The trace context of the Write, so its job continues its trace (see #enqueue). */
  readonly traceContext: Context;
}

export const DEFAULT_GROUP_COMMIT: GroupCommitLimits = { maxRows: 5_000, maxDelayMillis: 20 };
const DEFAULT_ATTEMPTS = 12;
const DEFAULT_BACKOFF_MILLIS = 500;
const DEFAULT_ENQUEUE_TIMEOUT_MILLIS = 5_000;
const WAIT_TIMEOUT_MILLIS = 1_000;
const CLOSE_TIMEOUT_MILLIS = 2_000;

/** `work`, or a rejection once `millis` pass (the work itself goes on). */
async function withTimeout<T>(work: Promise<T>, millis: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer from Redis within ${Math.max(0, millis)} ms`)),
      Math.max(0, millis),
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class BullmqWriteBehind implements WriteBehind {
  readonly deadLetters: BullmqDeadLetters;
  readonly #connection: Cluster;
  readonly #queue: Queue<OfflineJobData>;
  readonly #online: OnlineStore;
  readonly #group: GroupCommit<Item>;
  readonly #jobOptions: JobsOptions;
  readonly #enqueueTimeoutMillis: number;
  readonly #queueSlot: Uint16Array;
  readonly #logger: Logger;
  #closed = false;

  constructor(options: BullmqWriteBehindOptions) {
    this.#online = options.online;
    this.#logger = (options.logger ?? stderrLogger()).child({ component: 'write-behind' });
    this.#connection = createRedisCluster({
      ...options.redis,
      nodes: options.nodes,
      enableOfflineQueue: false,
      maxReconnectDelayMillis: 1_000,
      connectTimeoutMillis: 1_000,
      commandTimeoutMillis: 2_000,
      maxRetriesPerRequest: 1,
      onError: (error) => this.#logger.debug({ err: error }, 'write-behind: producer Redis connection error'),
    });
    const prefix = queuePrefix(options.keyPrefix);
    this.#queue = new Queue<OfflineJobData>(OFFLINE_QUEUE, {
      connection: this.#connection,
      prefix,
      telemetry: bullmqTelemetry(),
    });
    this.#queue.on('error', (error: unknown) => this.#logger.debug({ err: error }, 'write-behind: queue error'));
    this.#queueSlot = Uint16Array.of(calculateSlot(prefix));
    this.deadLetters = new BullmqDeadLetters(this.#queue);
    this.#jobOptions = {
      attempts: options.attempts ?? DEFAULT_ATTEMPTS,
      backoff: { type: 'exponential', delay: options.backoffMillis ?? DEFAULT_BACKOFF_MILLIS },
      removeOnComplete: { age: 3_600, count: 10_000 },
      // Failed jobs stay: they are the dead letters.
      removeOnFail: false,
    };
    this.#enqueueTimeoutMillis = options.enqueueTimeoutMillis ?? DEFAULT_ENQUEUE_TIMEOUT_MILLIS;
    this.#group = new GroupCommit<Item>((_, items) => this.#enqueue(items), {
      ...DEFAULT_GROUP_COMMIT,
      ...options.groupCommit,
    });
  }

  async write(
    view: RegisteredView,
    offline: OfflineBatch,
    online?: OnlineWrite,
    options: WriteBehindOptions = {},
  ): Promise<OnlineWriteResult | undefined> {
    if (this.#closed) {
      throw new TesseraError(
        'UNAVAILABLE',
        `Write to ${view.name}@${view.version}: the server is shutting down; retry the write`,
      );
    }
    const replicas = Math.max(options.replicas ?? 0, online?.options?.replicas ?? 0);
    // An event view's events (design §1.6): the online fold runs first and its answer travels with
    // the offline rows as `online_gen`, so offline knows what online holds.
    let folded: OnlineWriteResult | undefined;
    if (online?.batch.events !== undefined) folded = await this.#online.write(online.batch, online.options);
    const item: Item = {
      view,
      accepted: { batch: withOnlineGenerations(offline, online, folded), createdTsMicros: nowMicros() },
      replicas,
      traceContext: context.active(),
    };
    const queued =
      options.token === undefined
        ? this.#group.add(`${view.id}.${view.version}`, item, offline.eventTsMillis.length)
        : this.#enqueue([item], options.token);
    if (online === undefined || folded !== undefined) {
      await queued;
      return folded;
    }
    const [, result] = await Promise.all([queued, this.#online.write(online.batch, online.options)]);
    return result;
  }

  stats(): Promise<WriteBehindStats> {
    return queueStats(this.#queue);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#group.close();
    await withTimeout(this.#queue.close(), CLOSE_TIMEOUT_MILLIS).catch(() => undefined);
    // BullMQ does not close a connection it was given.
    await withTimeout(this.#connection.quit(), CLOSE_TIMEOUT_MILLIS).catch(() => this.#connection.disconnect());
  }

  /**
   * Adds one job for `items` in a span of the first Write's trace (the job, and so its insert by a
   * writer, continue that trace); the other Writes of a group commit are linked to it. A flush runs
   * in whatever context started its timer or the flush before it, hence the explicit context.
   */
  #enqueue(items: Item[], token?: string): Promise<void> {
    const first = items[0];
    if (first === undefined) return Promise.resolve();
    const links: Link[] = [];
    for (let i = 1; i < items.length; i++) {
      const linked = trace.getSpanContext((items[i] as Item).traceContext);
      if (linked !== undefined) links.push({ context: linked });
    }
    return tracer.startActiveSpan(
      `enqueue ${OFFLINE_QUEUE}`,
      { kind: SpanKind.INTERNAL, links },
      first.traceContext,
      async (span) => {
        if (span.isRecording()) {
          span.setAttributes({
            'messaging.system': 'bullmq',
            'messaging.destination.name': OFFLINE_QUEUE,
            'messaging.batch.message_count': items.length,
            'tessera.view': `${first.view.name}@${first.view.version}`,
          });
        }
        try {
          await this.#enqueueIn(items, token);
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  /** Adds one job for `items` (Writes of one view version); retried through failovers (the job id makes it idempotent). */
  async #enqueueIn(items: Item[], token?: string): Promise<void> {
    const first = items[0];
    if (first === undefined) return;
    // The newest shape of the view among the Writes: compatible changes only add features.
    const view = items.reduce((a, b) => (b.view.features.length > a.view.features.length ? b : a)).view;
    const data = encodeOfflineJob(
      view,
      items.map((i) => i.accepted),
    );
    // BullMQ adds nothing for an id it still holds; ClickHouse drops a repeated token.
    const jobId = token ?? randomUUID();
    const label = `${view.name}@${view.version}`;
    const deadline = Date.now() + this.#enqueueTimeoutMillis;
    for (let attempt = 1; ; attempt++) {
      try {
        // BullMQ waits for a connection that is not ready yet without limit: bound it. An add that
        // completes after we gave up is a job of an unacknowledged Write, stored once (its id).
        await withTimeout(this.#queue.add(label, data, { ...this.#jobOptions, jobId }), deadline - Date.now());
        break;
      } catch (error) {
        if (Date.now() + 100 * attempt > deadline) {
          throw new TesseraError(
            'UNAVAILABLE',
            `Write to ${label}: the write-behind queue could not store the offline rows (${(error as Error).message}); nothing was acknowledged, retry the write`,
            { cause: error },
          );
        }
        this.#logger.debug({ err: error, job: jobId, attempt }, 'write-behind: enqueue failed, retrying');
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
    const replicas = Math.max(...items.map((i) => i.replicas));
    if (replicas > 0) {
      await waitForReplicas(
        this.#connection,
        this.#queueSlot,
        replicas,
        Date.now() + WAIT_TIMEOUT_MILLIS,
        WAIT_TIMEOUT_MILLIS,
        `Write to ${label} (write-behind job ${jobId})`,
      );
    }
  }
}
