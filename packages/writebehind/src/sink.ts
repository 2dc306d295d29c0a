import { TesseraError, type OfflineStore, type RegisteredView } from '@tessera/core';
import type { LatencySummary, OfflineJobSink } from './contract.js';
import { SpanStatusCode } from '@opentelemetry/api';
import { decodeOfflineJob, type OfflineJobData } from './offline-job.js';
import { tracer } from './tracing.js';

/** Looks up a view version; may refresh a cached registry when it does not know it yet. */
export type FindView = (name: string, version: number) => Promise<RegisteredView | undefined>;

/** Told of every successful insert: the view version, its rows and how long the insert took (metrics). */
export type InsertObserver = (view: string, version: number, rows: number, seconds: number) => void;

/** Options of {@link OfflineStoreSink}. */
export interface OfflineStoreSinkOptions {
  /** Called after each successful insert; must be cheap and must not throw. */
  readonly onInserted?: InsertObserver;
}

/**
 * The consumer side shared by the BullMQ writer and the embedded drainer: a job becomes one insert
 * into its view version's table, with the job id as ClickHouse deduplication token, so a job run
 * twice (a retry after a crash between insert and acknowledgement) adds its rows once.
 */
export class OfflineStoreSink implements OfflineJobSink {
  readonly #offline: OfflineStore;
  readonly #findView: FindView;
  readonly #latencies = new LatencyWindow();
  readonly #onInserted: InsertObserver | undefined;

  constructor(offline: OfflineStore, findView: FindView, options: OfflineStoreSinkOptions = {}) {
    this.#offline = offline;
    this.#findView = findView;
    this.#onInserted = options.onInserted;
  }

  /** Inserts `job` in a span `insert <view>@<version>` (a child of the job's consumer span, if any). */
  insert(job: OfflineJobData, dedupToken: string): Promise<void> {
    return tracer.startActiveSpan(`insert ${job.view}@${job.version}`, async (span) => {
      if (span.isRecording()) {
        span.setAttributes({
          'tessera.view': `${job.view}@${job.version}`,
          'tessera.writebehind.rows': job.rowCount,
          'tessera.writebehind.job_id': dedupToken,
        });
      }
      try {
        await this.#insert(job, dedupToken);
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    });
  }

  async #insert(job: OfflineJobData, dedupToken: string): Promise<void> {
    const view = await this.#findView(job.view, job.version);
    if (view === undefined) {
      // Retried: the registry this process reads may not have caught up with the one that accepted the write.
      throw new TesseraError(
        'NOT_FOUND',
        `write-behind job ${dedupToken}: view ${job.view}@${job.version} is not in the registry`,
      );
    }
    let batch;
    try {
      batch = decodeOfflineJob(job, view);
    } catch (error) {
      if (job.rows.length > 0 && (error as Error).message.includes('features, the view has')) {
        // A feature added since this process read the registry: retried once it has caught up.
        throw new TesseraError(
          'UNAVAILABLE',
          `write-behind job ${dedupToken}: ${(error as Error).message}; the registry here is behind`,
        );
      }
      throw new PoisonJobError((error as Error).message, error);
    }
    const started = performance.now();
    try {
      await this.#offline.insert(view, batch, { dedupToken });
    } catch (error) {
      // Rows ClickHouse cannot take will never go in; anything else (a table not there yet, rights,
      // a server down) may pass on a later attempt.
      if (isDataError(error)) throw new PoisonJobError((error as Error).message, error);
      throw error;
    }
    const millis = performance.now() - started;
    this.#latencies.add(millis);
    this.#onInserted?.(job.view, job.version, batch.eventTsMillis.length, millis / 1000);
  }

  get inserted(): number {
    return this.#latencies.count;
  }

  insertLatency(): LatencySummary | undefined {
    return this.#latencies.summary();
  }
}

/** A job that can never be inserted (unreadable, or rows ClickHouse rejects): a dead letter at once. */
export class PoisonJobError extends TesseraError {
  constructor(message: string, cause: unknown) {
    super('INVALID_ARGUMENT', message, { cause });
  }
}

/** ClickHouse errors about the rows themselves, as opposed to the table, rights or the server. */
const DATA_ERRORS =
  /CANNOT_PARSE|TYPE_MISMATCH|INCORRECT_DATA|CANNOT_READ_ARRAY|SIZES_OF_ARRAYS|NUMBER_OF_COLUMNS_DOESNT_MATCH|CANNOT_CONVERT_TYPE|ARGUMENT_OUT_OF_BOUND|DECIMAL_OVERFLOW|outside the range ClickHouse DateTime64 stores/;

function isDataError(error: unknown): boolean {
  return error instanceof TesseraError && error.code === 'INVALID_ARGUMENT' && DATA_ERRORS.test(error.message);
}

/** The latest 1,024 samples of a latency, summarised on demand. */
export class LatencyWindow {
  readonly #samples = new Float64Array(1024);
  #count = 0;

  add(millis: number): void {
    this.#samples[this.#count % this.#samples.length] = millis;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  summary(): LatencySummary | undefined {
    const n = Math.min(this.#count, this.#samples.length);
    if (n === 0) return undefined;
    const sorted = this.#samples.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.floor(q * n))] as number;
    return { count: this.#count, p50: at(0.5), p99: at(0.99), max: sorted[n - 1] as number };
  }
}
