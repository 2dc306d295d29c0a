/**
 * The write-behind port: how a Write's offline copy reaches the offline store after the Write is
 * acknowledged. Implemented by `@tessera/writebehind` (BullMQ in cluster mode, an LMDB outbox
 * embedded); the server depends only on this contract.
 */
import type { RegisteredView } from '../model.js';
import type { OfflineBatch } from '../offline-store.js';
import type { OnlineWriteBatch, OnlineWriteOptions, OnlineWriteResult } from '../online-store.js';

/** The online half of a Write that also goes offline. */
export interface OnlineWrite {
  readonly batch: OnlineWriteBatch;
  readonly options?: OnlineWriteOptions;
  /**
   * With `batch.events`: per event, the row of the offline batch it is. Write-behind then writes
   * online first and gives each such row the event's generation as `online_gen` (design §1.6).
   */
  readonly eventRows?: readonly number[];
}

/**
 * The offline batch with `online_gen` from the online write's answer: per event of `online`, its
 * generation on the offline row it came from; 0 elsewhere. Unchanged without events.
 */
export function withOnlineGenerations(
  offline: OfflineBatch,
  online: OnlineWrite | undefined,
  result: OnlineWriteResult | undefined,
): OfflineBatch {
  const rows = online?.eventRows;
  const generations = result?.eventGenerations;
  if (rows === undefined || generations === undefined) return offline;
  const out = new Uint32Array(offline.eventTsMillis.length);
  rows.forEach((row, i) => {
    out[row] = generations[i] ?? 0;
  });
  return { ...offline, onlineGenerations: out };
}

/**
 * Write-behind: the online write happens at once and the offline copy is made durable on its way
 * to the offline store before the Write is acknowledged. Once `write` resolves, the offline rows
 * reach the offline store exactly once, whatever process dies afterwards.
 */
export interface WriteBehind {
  /**
   * Writes `online` (when given) and makes `offline` durable in the queue; resolves once both hold.
   * A rejection means the Write is not acknowledged: its offline rows may still arrive (once).
   */
  write(
    view: RegisteredView,
    offline: OfflineBatch,
    online?: OnlineWrite,
    options?: WriteBehindOptions,
  ): Promise<OnlineWriteResult | undefined>;
  /** Queue depth, lag and dead letters, for operators and the metrics endpoint. */
  stats(): Promise<WriteBehindStats>;
  /** The dead-letter set: jobs that exhausted their retries. */
  readonly deadLetters: DeadLetters;
  /**
   * Stops accepting writes, flushes what is buffered and (where it drains in-process) drains for up
   * to `drainMillis` (what is left stays durable for the next start).
   */
  close(drainMillis?: number): Promise<void>;
}

export interface WriteBehindOptions {
  /**
   * A deduplication token of this write alone (derived from an idempotency key): the write gets a
   * job of its own under this token, so repeating it — after a crash, before its result was
   * recorded — adds its offline rows once.
   */
  readonly token?: string;
  /** Replicas that must hold the queued job before the write is acknowledged (Redis `WAIT`). */
  readonly replicas?: number;
}

export interface WriteBehindStats {
  /** Jobs (or outbox entries) not yet in the offline store, dead letters excluded. */
  readonly pendingJobs: number;
  /** Rows of those jobs, when known. */
  readonly pendingRows: number | undefined;
  /** Age of the oldest pending job, ms (0 when none): the offline lag. */
  readonly oldestPendingMillis: number;
  readonly deadLetters: number;
  /** Jobs inserted by this process since it started, and their insert latency. */
  readonly inserted: number;
  readonly insertMillis: LatencySummary | undefined;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** A job that exhausted its retries, with why. */
export interface DeadLetter {
  readonly id: string;
  readonly view: string;
  readonly version: number;
  readonly rowCount: number;
  readonly attempts: number;
  readonly error: string;
  readonly enqueuedAtMillis: number;
  readonly failedAtMillis: number;
}

export interface DeadLetters {
  list(limit?: number): Promise<DeadLetter[]>;
  get(id: string): Promise<DeadLetter | undefined>;
  /** Puts a dead letter back in the queue (its id, hence its deduplication token, unchanged). False when absent. */
  replay(id: string): Promise<boolean>;
  /** Deletes a dead letter for good. False when absent. */
  drop(id: string): Promise<boolean>;
}
