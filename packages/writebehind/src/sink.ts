import { TesseraError, type OfflineStore, type RegisteredView } from '@tessera/core';
import type { LatencySummary, OfflineJobSink } from './contract.js';
import { decodeOfflineJob, type OfflineJobData } from './offline-job.js';

/** Looks up a view version; may refresh a cached registry when it does not know it yet. */
export type FindView = (name: string, version: number) => Promise<RegisteredView | undefined>;

/**
 * The consumer side shared by the BullMQ writer and the embedded drainer: a job becomes one insert
 * into its view version's table, with the job id as ClickHouse deduplication token, so a job run
 * twice (a retry after a crash between insert and acknowledgement) adds its rows once.
 */
export class OfflineStoreSink implements OfflineJobSink {
  readonly #offline: OfflineStore;
  readonly #findView: FindView;
  readonly #latencies = new LatencyWindow();

  constructor(offline: OfflineStore, findView: FindView) {
    this.#offline = offline;
    this.#findView = findView;
  }

  async insert(job: OfflineJobData, dedupToken: string): Promise<void> {
    const view = await this.#findView(job.view, job.version);
    if (view === undefined) {
      // Retried: the registry this process reads may not have caught up with the one that accepted the write.
      throw new TesseraError(
        'NOT_FOUND',
        `write-behind job ${dedupToken}: view ${job.view}@${job.version} is not in the registry`,
      );
    }
    const batch = decodeOfflineJob(job, view);
    const started = performance.now();
    await this.#offline.insert(view, batch, { dedupToken });
    this.#latencies.add(performance.now() - started);
  }

  get inserted(): number {
    return this.#latencies.count;
  }

  insertLatency(): LatencySummary | undefined {
    return this.#latencies.summary();
  }
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
