import type { Logger } from '@tessera/core';
import { silentLogger } from '@tessera/core';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FreshnessTable } from './freshness.js';
import { RpcDurations } from './rpc-durations.js';

/** What a write-behind queue reports (a subset of `WriteBehindStats` from @tessera/writebehind). */
export interface QueueStats {
  readonly pendingJobs: number;
  readonly pendingRows: number | undefined;
  /** Age of the oldest pending job, ms (0 when none). */
  readonly oldestPendingMillis: number;
  readonly deadLetters: number;
}

/** Which write-behind queue a process watches: the embedded LMDB outbox or BullMQ on the cluster. */
export type QueueKind = 'outbox' | 'bullmq';

/** Options of {@link TesseraMetrics}. */
export interface TesseraMetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC: `process_*`, `nodejs_*`). Default true. */
  readonly processMetrics?: boolean;
  /** Where failures of scrape-time collection (queue stats) are logged. Default silent. */
  readonly logger?: Logger;
  /** Clock, ms since the epoch (freshness ages are computed at scrape time against it). */
  readonly nowMillis?: () => number;
}

/** Buckets of insert latency, seconds: from a small chDB insert to a slow ClickHouse server. */
const INSERT_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Statuses of served values; `null` is a present row whose value is null. */
export type ServedStatus = 'ok' | 'not_found' | 'expired' | 'null';

/** Pre-bound children of one view's insert counters: one lookup per batch, no labels built per row. */
export interface ViewInsertCounters {
  readonly rows: Counter.Internal;
  readonly batches: Counter.Internal;
}

/**
 * Every metric a Tessera process exports, in one prom-client registry of its own (several servers
 * in one process — tests, embedders — do not collide). Hot-path recording goes through children
 * bound once (`served.ok.inc(n)`), never through a label object built per call.
 */
export class TesseraMetrics {
  readonly registry = new Registry();
  /** RPC duration by service, method and gRPC code. */
  readonly rpc: RpcDurations;
  /** Values answered by GetOnlineFeatures, by status. */
  readonly served: Readonly<Record<ServedStatus, Counter.Internal>>;
  /** Newest event written and served per view version; exported as ages. */
  readonly freshness: FreshnessTable;
  readonly #insertRows: Counter<'view' | 'version'>;
  readonly #insertBatches: Counter<'view' | 'version'>;
  readonly #insertSeconds: Histogram;
  readonly #insertFailures: Counter<'outcome'>;
  readonly #storeErrors: Counter<'store' | 'operation'>;
  readonly #onDemandErrors: Counter<'view' | 'feature'>;
  readonly #eventsExcluded: Counter<'view' | 'reason'>;
  readonly #byView = new Map<string, ViewInsertCounters>();
  readonly #logger: Logger;
  readonly #queues: { kind: QueueKind; stats: () => Promise<QueueStats> }[] = [];
  #registryVersion: (() => number) | undefined;
  #scrape: Promise<readonly { kind: QueueKind; stats: QueueStats | undefined }[]> | undefined;

  constructor(options: TesseraMetricsOptions = {}) {
    const registers = [this.registry];
    this.#logger = options.logger ?? silentLogger;
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.rpc = new RpcDurations(
      new Histogram({
        name: 'tessera_rpc_server_duration_seconds',
        help: 'Duration of gRPC calls handled by this server, from the first message to the status, by service, method and gRPC status code.',
        labelNames: ['service', 'method', 'code'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        registers,
      }),
    );
    const served = new Counter({
      name: 'tessera_online_values_served_total',
      help: 'Feature values answered by GetOnlineFeatures, by status: ok, not_found (no row), expired (older than the view TTL), null (a row whose value is null).',
      labelNames: ['status'],
      registers,
    });
    this.served = {
      ok: served.labels('ok'),
      not_found: served.labels('not_found'),
      expired: served.labels('expired'),
      null: served.labels('null'),
    };
    this.#onDemandErrors = new Counter({
      name: 'tessera_on_demand_errors_total',
      help: 'On-demand feature values that failed to evaluate (integer overflow, division by zero, avg of an empty list) and were answered as null, online and in GetHistorical, by view and feature.',
      labelNames: ['view', 'feature'],
      registers,
    });
    this.freshness = new FreshnessTable(options.nowMillis ?? Date.now);
    const freshness = this.freshness;
    new Gauge({
      name: 'tessera_view_freshness_age_seconds',
      help: 'Age of the newest event of a view version, by source: written (accepted by a Write here) or served (answered by GetOnlineFeatures here). Grows while a view is stale.',
      labelNames: ['view', 'version', 'source'],
      registers,
      collect() {
        this.reset();
        freshness.forEachAge((view, version, source, ageSeconds) =>
          this.labels(view, String(version), source).set(ageSeconds),
        );
      },
    });
    this.#insertRows = new Counter({
      name: 'tessera_offline_inserted_rows_total',
      help: 'Rows inserted into the offline store by write-behind (the writer, or the embedded outbox drain), by view and version.',
      labelNames: ['view', 'version'],
      registers,
    });
    this.#insertBatches = new Counter({
      name: 'tessera_offline_insert_batches_total',
      help: 'Write-behind batches (jobs or outbox claims) inserted into the offline store, by view and version.',
      labelNames: ['view', 'version'],
      registers,
    });
    this.#insertSeconds = new Histogram({
      name: 'tessera_offline_insert_duration_seconds',
      help: 'Duration of one successful write-behind insert into the offline store.',
      buckets: INSERT_BUCKETS_SECONDS,
      registers,
    });
    this.#insertFailures = new Counter({
      name: 'tessera_writebehind_insert_failures_total',
      help: 'Failed write-behind insert attempts, by outcome: retry (another attempt follows) or dead_letter (retries exhausted or rows rejected).',
      labelNames: ['outcome'],
      registers,
    });
    this.#insertFailures.labels('retry');
    this.#insertFailures.labels('dead_letter');
    this.#eventsExcluded = new Counter({
      name: 'tessera_aggregation_events_excluded_total',
      help: 'Events of live writes to event views that no aggregation counts, by view and reason: late (older than allowed_lateness) or future (beyond future_tolerance).',
      labelNames: ['view', 'reason'],
      registers,
    });
    this.#storeErrors = new Counter({
      name: 'tessera_store_errors_total',
      help: 'Failed calls to a store, by store (online, offline) and operation.',
      labelNames: ['store', 'operation'],
      registers,
    });
    const queueGauge = (name: string, help: string, pick: (stats: QueueStats) => number | undefined): void => {
      const scrape = (): Promise<readonly { kind: QueueKind; stats: QueueStats | undefined }[]> => this.#scrapeQueues();
      new Gauge({
        name,
        help,
        labelNames: ['queue'],
        registers,
        async collect() {
          for (const { kind, stats } of await scrape()) {
            const value = stats === undefined ? undefined : pick(stats);
            if (value !== undefined) this.labels(kind).set(value);
          }
        },
      });
    };
    queueGauge(
      'tessera_writebehind_pending_jobs',
      'Write-behind jobs (BullMQ) or outbox entries (embedded) not yet in the offline store, dead letters excluded.',
      (s) => s.pendingJobs,
    );
    queueGauge(
      'tessera_writebehind_pending_rows',
      'Rows of the pending write-behind jobs, when known.',
      (s) => s.pendingRows,
    );
    queueGauge(
      'tessera_writebehind_oldest_pending_age_seconds',
      'Age of the oldest pending write-behind job: the offline lag (0 when none is pending).',
      (s) => s.oldestPendingMillis / 1000,
    );
    queueGauge(
      'tessera_writebehind_dead_letters',
      'Write-behind jobs that exhausted their retries and wait for an operator (tessera dlq).',
      (s) => s.deadLetters,
    );
    const registryVersion = (): number | undefined => this.#registryVersion?.();
    new Gauge({
      name: 'tessera_registry_version',
      help: 'Sequence number of the registry state this process serves (rises with every apply it has seen).',
      registers,
      collect() {
        const version = registryVersion();
        if (version !== undefined) this.set(version);
      },
    });
  }
  /** Counts on-demand evaluations that failed and were answered as null. */
  onDemandErrors(view: string, feature: string, count: number): void {
    if (count > 0) this.#onDemandErrors.labels(view, feature).inc(count);
  }

  /** The counters of one view version's inserts, bound once and reused. */
  insertCounters(view: string, version: number): ViewInsertCounters {
    const key = `${view}@${version}`;
    let counters = this.#byView.get(key);
    if (counters === undefined) {
      const labels = [view, String(version)] as const;
      counters = { rows: this.#insertRows.labels(...labels), batches: this.#insertBatches.labels(...labels) };
      this.#byView.set(key, counters);
    }
    return counters;
  }

  /** Records one successful write-behind insert. */
  recordInsert(view: string, version: number, rows: number, seconds: number): void {
    const counters = this.insertCounters(view, version);
    counters.rows.inc(rows);
    counters.batches.inc();
    this.#insertSeconds.observe(seconds);
  }

  /** Records one failed insert attempt. */
  recordInsertFailure(deadLetter: boolean): void {
    this.#insertFailures.labels(deadLetter ? 'dead_letter' : 'retry').inc();
  }

  /** Records the events a live write to an event view excluded from aggregation. */
  recordEventsExcluded(view: string, late: number, future: number): void {
    if (late > 0) this.#eventsExcluded.labels(view, 'late').inc(late);
    if (future > 0) this.#eventsExcluded.labels(view, 'future').inc(future);
  }

  /** Records one failed store call. */
  recordStoreError(store: 'online' | 'offline', operation: string): void {
    this.#storeErrors.labels(store, operation).inc();
  }

  /** Reports a write-behind queue's depth, lag and dead letters at every scrape. */
  watchQueue(kind: QueueKind, stats: () => Promise<QueueStats>): void {
    this.#queues.push({ kind, stats });
  }

  /** Reports the registry's sequence at every scrape. */
  watchRegistry(version: () => number): void {
    this.#registryVersion = version;
  }

  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** One stats call per queue per scrape, shared by the four queue gauges (collected concurrently). */
  #scrapeQueues(): Promise<readonly { kind: QueueKind; stats: QueueStats | undefined }[]> {
    this.#scrape ??= Promise.all(
      this.#queues.map(async ({ kind, stats }) => {
        try {
          return { kind, stats: await stats() };
        } catch (error) {
          this.#logger.warn({ err: error, queue: kind }, 'metrics: reading write-behind queue stats failed');
          return { kind, stats: undefined };
        }
      }),
    ).finally(() => {
      // The gauges of one scrape start in the same tick; the next scrape reads afresh.
      setImmediate(() => (this.#scrape = undefined));
    });
    return this.#scrape;
  }
}
