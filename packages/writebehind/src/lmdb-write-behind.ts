/**
 * Write-behind for the embedded server, without BullMQ: the online write and an outbox entry commit
 * in one LMDB transaction (so a Write is acknowledged only once both are on disk), and a drainer in
 * the same process inserts outbox entries into the offline store.
 *
 * Exactly once across `kill -9`: before inserting, the drainer records a claim (a deduplication
 * token and the entries it covers) in LMDB; after the insert it deletes the entries and the claim
 * in one transaction. A process that dies in between finds the claim on restart and inserts the
 * same entries with the same token, which ClickHouse drops if the first insert had landed.
 *
 * Failures are contained per view version: each view version has at most one claim, a claim that
 * fails waits out its backoff while the drainer goes on with the entries of every other view, and
 * after its last attempt it becomes a dead letter (with its reason) so its view flows again.
 */
import { randomUUID } from 'node:crypto';
import {
  TesseraError,
  nowMicros,
  type EmbeddedOnlineStore,
  type EmbeddedTable,
  stderrLogger,
  type Logger,
  withOnlineGenerations,
  type OfflineBatch,
  type OnlineWriteResult,
  type RegisteredView,
} from '@tessera/core';
import type { OnlineWrite, WriteBehind, WriteBehindOptions, WriteBehindStats } from './contract.js';
import { ROOT_CONTEXT, SpanStatusCode, context } from '@opentelemetry/api';
import { tracer } from './tracing.js';
import { backoffMillis, logWriteBehindFailure, type ReportWriteBehindFailure } from './failure-report.js';
import { LmdbDeadLetters, type Claim, type StoredDeadLetter } from './lmdb-dead-letters.js';
import { decodeOfflineJob, encodeOfflineJob, type OfflineJobData } from './offline-job.js';
import { PoisonJobError, type FindView, type OfflineStoreSink } from './sink.js';

export interface LmdbWriteBehindOptions {
  /** The embedded online store: the outbox lives in its LMDB environment. */
  readonly store: EmbeddedOnlineStore;
  readonly sink: OfflineStoreSink;
  /** The view of a job, to merge the rows of several Writes (the registry's lookup). */
  readonly findView: FindView;
  /** Most rows one insert carries. Default 50,000. */
  readonly maxInsertRows?: number;
  /** How long the drainer lets Writes gather before an insert, ms. Default 5. */
  readonly gatherMillis?: number;
  /** Insert attempts of a claim before its entries become a dead letter. Default 12 (~5 minutes). */
  readonly attempts?: number;
  /** First retry delay, doubled per attempt (at most {@link MAX_BACKOFF_MILLIS}), ms. Default 500. */
  readonly backoffMillis?: number;
  /** Where each failed attempt is reported. Default: logged (warn, or error for a dead letter). */
  readonly reportFailure?: ReportWriteBehindFailure;
  /** Where drain failures are logged. Default: warnings and errors as JSON on stderr. */
  readonly logger?: Logger;
  /** Start draining at once. Default true (tests start it themselves to stage a crash). */
  readonly autoStart?: boolean;
}

interface OutboxEntry {
  readonly job: OfflineJobData;
  /** A write's own deduplication token (idempotency keys): inserted alone, under it. */
  readonly token?: string;
}

/** A claim with the key it is stored under (one per view version; `current` in older data). */
interface ClaimRecord {
  readonly key: string;
  readonly claim: Claim;
}

/** The outcome of one drain step: never an exception (background work reports, it does not throw). */
type DrainStep = { readonly progressed: true } | { readonly progressed: false; readonly retryAtMillis?: number };

/** Longest wait between two attempts of a failing claim, ms. */
export const MAX_BACKOFF_MILLIS = 60_000;
const DEFAULT_ATTEMPTS = 12;
const DEFAULT_BACKOFF_MILLIS = 500;

export class LmdbWriteBehind implements WriteBehind {
  readonly deadLetters: LmdbDeadLetters;
  readonly #store: EmbeddedOnlineStore;
  readonly #sink: OfflineStoreSink;
  readonly #findView: FindView;
  readonly #outbox: EmbeddedTable<OutboxEntry, number>;
  readonly #claims: EmbeddedTable<Claim, string>;
  readonly #dead: EmbeddedTable<StoredDeadLetter, string>;
  readonly #maxInsertRows: number;
  readonly #gatherMillis: number;
  readonly #attempts: number;
  readonly #backoffMillis: number;
  readonly #report: ReportWriteBehindFailure;
  readonly #logger: Logger;
  #nextSequence: number;
  /** Entries and rows in the outbox, kept as they change (stats are polled by health checks). */
  #pendingJobs = 0;
  #pendingRows = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAtMillis = Infinity;
  #draining: Promise<void> | undefined;
  /** A drain was asked for while one ran: run again when it ends. */
  #again = false;
  #running = false;
  #closed = false;

  constructor(options: LmdbWriteBehindOptions) {
    this.#store = options.store;
    this.#sink = options.sink;
    this.#findView = options.findView;
    this.#outbox = options.store.openDatabase<OutboxEntry, number>('writebehind-outbox');
    this.#claims = options.store.openDatabase<Claim, string>('writebehind-claims');
    this.#dead = options.store.openDatabase<StoredDeadLetter, string>('writebehind-dead');
    this.#maxInsertRows = options.maxInsertRows ?? 50_000;
    this.#gatherMillis = options.gatherMillis ?? 5;
    this.#attempts = Math.max(1, options.attempts ?? DEFAULT_ATTEMPTS);
    this.#backoffMillis = options.backoffMillis ?? DEFAULT_BACKOFF_MILLIS;
    this.#logger = (options.logger ?? stderrLogger()).child({ component: 'outbox' });
    this.#report = options.reportFailure ?? logWriteBehindFailure(this.#logger);
    let last = 0;
    for (const { key, value } of this.#outbox.getRange()) {
      last = key;
      this.#pendingJobs++;
      this.#pendingRows += value.job.rowCount;
    }
    this.#nextSequence = last + 1;
    this.deadLetters = new LmdbDeadLetters(this);
    if (options.autoStart ?? true) this.start();
  }

  async write(
    view: RegisteredView,
    offline: OfflineBatch,
    online?: OnlineWrite,
    options: WriteBehindOptions = {},
  ): Promise<OnlineWriteResult | undefined> {
    if (this.#closed)
      throw new TesseraError('UNAVAILABLE', `Write to ${view.name}@${view.version}: the server is shutting down`);
    const createdTsMicros = nowMicros();
    // The job is encoded inside the transaction, after the online write: an event view's rows carry
    // the fold's answer (`online_gen`, design §1.6), committed together with it.
    let job = encodeOfflineJob(view, [{ batch: offline, createdTsMicros }]);
    const result = await tracer.startActiveSpan('outbox append', async (span) => {
      if (span.isRecording()) {
        span.setAttributes({
          'db.system.name': 'lmdb',
          'tessera.view': `${view.name}@${view.version}`,
          'tessera.writebehind.rows': job.rowCount,
          'tessera.online.rows': online?.batch.keys.length ?? 0,
        });
      }
      try {
        return await this.#store.writeWith(online?.batch, (written) => {
          if (online?.eventRows !== undefined) {
            job = encodeOfflineJob(view, [{ batch: withOnlineGenerations(offline, online, written), createdTsMicros }]);
          }
          const entry: OutboxEntry = options.token === undefined ? { job } : { job, token: options.token };
          this.#outbox.putSync(this.#nextSequence, entry);
          this.#nextSequence++;
        });
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    });
    this.#pendingJobs++;
    this.#pendingRows += job.rowCount;
    this.#schedule(this.#gatherMillis);
    return result;
  }

  /** Starts the drainer (claims left by a crash are finished first). */
  start(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#schedule(0);
  }

  stats(): Promise<WriteBehindStats> {
    let oldest = Infinity;
    // Sequences grow with time: the first entry is the oldest.
    for (const { value } of this.#outbox.getRange({ limit: 1 })) oldest = value.job.enqueuedAtMillis;
    return Promise.resolve({
      pendingJobs: this.#pendingJobs,
      pendingRows: this.#pendingRows,
      oldestPendingMillis: oldest === Infinity ? 0 : Math.max(0, Date.now() - oldest),
      deadLetters: this.#dead.getCount(),
      inserted: this.#sink.inserted,
      insertMillis: this.#sink.insertLatency(),
    });
  }

  /** Drains what is in the outbox (up to `timeoutMillis`), then stops. Later writes are refused. */
  async close(timeoutMillis = 10_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    const deadline = Date.now() + timeoutMillis;
    const untilDeadline = async <T>(work: Promise<T> | undefined): Promise<T | undefined> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
      });
      try {
        return await Promise.race([work, timeout]);
      } finally {
        clearTimeout(timer);
      }
    };
    if (this.#running) {
      await untilDeadline(this.#draining);
      // Whatever is due now, once: claims in backoff keep their backoff (they are not retried here).
      while (Date.now() < deadline) {
        const step = await untilDeadline(this.#drainOnce());
        if (step?.progressed !== true) break;
      }
    }
    // What is left stays in the outbox (claims included) for the next start.
    this.#running = false;
  }

  /** Waits until the outbox is empty (or `timeoutMillis` passes); true when it is. */
  async drained(timeoutMillis = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMillis;
    while (Date.now() < deadline) {
      if (this.#outbox.getKeysCount({ limit: 1 }) === 0 && this.#claims.getKeysCount({ limit: 1 }) === 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return false;
  }

  /** Runs the drainer in `delayMillis` (or sooner, if it was already due sooner). */
  #schedule(delayMillis: number): void {
    if (!this.#running || this.#closed) return;
    const at = Date.now() + Math.max(0, delayMillis);
    if (this.#timer !== undefined && this.#timerAtMillis <= at) return;
    this.#clearTimer();
    this.#timerAtMillis = at;
    // The drainer belongs to no request: detached from the trace of the Write that woke it.
    this.#timer = setTimeout(() => context.with(ROOT_CONTEXT, () => this.#runDrainer()), at - Date.now());
  }

  /** One run of the drainer (or a note to run again when one is under way). */
  #runDrainer(): void {
    this.#timer = undefined;
    this.#timerAtMillis = Infinity;
    if (this.#draining !== undefined) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drainLoop().finally(() => {
      this.#draining = undefined;
      if (this.#again) {
        this.#again = false;
        this.#schedule(0);
      }
    });
  }

  #clearTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAtMillis = Infinity;
  }

  async #drainLoop(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const step = await this.#drainOnce();
      if (!step.progressed) {
        if (step.retryAtMillis !== undefined) this.#schedule(step.retryAtMillis - Date.now());
        return;
      }
    }
  }

  /**
   * One step: a claim whose backoff is over, else a new claim over the oldest entries of a view
   * version that has none. A failure is recorded on the claim (and reported), never thrown.
   */
  async #drainOnce(): Promise<DrainStep> {
    try {
      const now = Date.now();
      const claimed = new Set<string>();
      let due: ClaimRecord | undefined;
      let nextRetry = Infinity;
      for (const { key, value } of this.#claims.getRange()) {
        claimed.add(versionKey(value.view, value.version));
        const at = value.retryAtMillis ?? 0;
        if (at > now) nextRetry = Math.min(nextRetry, at);
        else if (due === undefined || firstSequence(value) < firstSequence(due.claim)) due = { key, claim: value };
      }
      const record = due ?? this.#claimNext(claimed);
      if (record === undefined)
        return nextRetry === Infinity ? { progressed: false } : { progressed: false, retryAtMillis: nextRetry };
      await this.#attempt(record);
      return { progressed: true };
    } catch (error) {
      // The outbox itself failed (LMDB): nothing to attribute to one view; try again later.
      this.#logger.error(
        { err: error, retry_in_ms: this.#backoffMillis },
        'write-behind: outbox drain failed; retrying',
      );
      return { progressed: false, retryAtMillis: Date.now() + this.#backoffMillis };
    }
  }

  /** Inserts one claim; on failure records the attempt (backoff) or buries it. */
  async #attempt(record: ClaimRecord): Promise<void> {
    const { key, claim } = record;
    const present = claim.sequences
      .map((sequence) => this.#outbox.get(sequence))
      .filter((entry): entry is OutboxEntry => entry !== undefined);
    if (present.length === 0) {
      await this.#claims.remove(key);
      return;
    }
    let job: OfflineJobData;
    try {
      job = await this.#mergedJob(claim, present);
    } catch (error) {
      // A claim that may have reached ClickHouse keeps its token and entries: retried as it is.
      if (claim.inserting === true) return this.#failed(record, present, error);
      if (claim.sequences.length > 1) {
        // One entry spoils the merge, and nothing was inserted under this claim: go one entry at a
        // time until it is passed.
        const first = claim.sequences.slice(0, 1);
        await this.#claims.put(key, { ...claim, token: randomUUID(), sequences: first });
        return;
      }
      this.#bury(record, present, error);
      return;
    }
    if (claim.inserting !== true) await this.#claims.put(key, { ...claim, inserting: true });
    try {
      await this.#sink.insert(job, claim.token);
    } catch (error) {
      return this.#failed(record, present, error);
    }
    this.#store.transaction(() => {
      for (const sequence of claim.sequences) this.#outbox.removeSync(sequence);
      this.#claims.removeSync(key);
    });
    this.#removed(present);
  }

  #removed(entries: readonly OutboxEntry[]): void {
    this.#pendingJobs -= entries.length;
    for (const entry of entries) this.#pendingRows -= entry.job.rowCount;
  }

  /** Counts a failed attempt: backoff before the next one, or a dead letter after the last. */
  async #failed(record: ClaimRecord, entries: readonly OutboxEntry[], error: unknown): Promise<void> {
    const attempts = record.claim.attempts + 1;
    const message = error instanceof Error ? error.message : String(error);
    const claim: Claim = { ...record.claim, attempts, lastError: message };
    if (error instanceof PoisonJobError || attempts >= this.#attempts) {
      this.#bury({ key: record.key, claim }, entries, error);
      return;
    }
    const delay = backoffMillis(attempts, this.#backoffMillis, MAX_BACKOFF_MILLIS);
    await this.#claims.put(record.key, { ...claim, retryAtMillis: Date.now() + delay });
    this.#reportFailure(claim, entries, message, delay);
  }

  #reportFailure(claim: Claim, entries: readonly OutboxEntry[], error: string, retryInMillis?: number): void {
    try {
      this.#report({
        view: claim.view,
        version: claim.version,
        id: claim.token,
        rowCount: entries.reduce((sum, entry) => sum + entry.job.rowCount, 0),
        attempt: Math.max(1, claim.attempts),
        attempts: this.#attempts,
        error,
        retryInMillis,
      });
    } catch {
      // A reporter that fails must not stop the drain.
    }
  }

  /** Claims the oldest entries of the oldest unclaimed view version, up to the insert size. */
  #claimNext(claimed: ReadonlySet<string>): ClaimRecord | undefined {
    return this.#store.transaction(() => {
      let first: OfflineJobData | undefined;
      const sequences: number[] = [];
      let rows = 0;
      let token: string | undefined;
      // Entries of a view version in backoff are passed over: the other views keep flowing.
      for (const { key, value } of this.#outbox.getRange()) {
        if (first === undefined) {
          if (claimed.has(versionKey(value.job.view, value.job.version))) continue;
          first = value.job;
          token = value.token;
        } else if (token !== undefined || value.token !== undefined) {
          // A write with its own token is inserted alone, under that token.
          continue;
        }
        if (value.job.view !== first.view || value.job.version !== first.version) continue;
        if (sequences.length > 0 && rows + value.job.rowCount > this.#maxInsertRows) break;
        sequences.push(key);
        rows += value.job.rowCount;
        if (token !== undefined) break;
      }
      if (first === undefined) return undefined;
      const claim: Claim = {
        token: token ?? randomUUID(),
        view: first.view,
        version: first.version,
        sequences,
        attempts: 0,
      };
      const key = versionKey(first.view, first.version);
      this.#claims.putSync(key, claim);
      return { key, claim };
    });
  }

  async #mergedJob(claim: Claim, entries: readonly OutboxEntry[]): Promise<OfflineJobData> {
    if (entries.length === 1 && entries[0] !== undefined) return entries[0].job;
    const view = await this.#findView(claim.view, claim.version);
    if (view === undefined) {
      throw new TesseraError(
        'NOT_FOUND',
        `write-behind outbox: view ${claim.view}@${claim.version} is not in the registry`,
      );
    }
    const parts = entries.map((entry) => ({ batch: decodeOfflineJob(entry.job, view), createdTsMicros: 0n }));
    const merged = encodeOfflineJob(view, parts);
    const enqueuedAtMillis = Math.min(...entries.map((entry) => entry.job.enqueuedAtMillis));
    return { ...merged, enqueuedAtMillis };
  }

  /** Moves a claim's entries to the dead letters, with the error that put them there. */
  #bury(record: ClaimRecord, entries: readonly OutboxEntry[], error: unknown): void {
    const { key, claim } = record;
    const message = error instanceof Error ? error.message : String(error);
    this.#store.transaction(() => {
      this.#dead.putSync(claim.token, {
        claim,
        jobs: entries.map((entry) => entry.job),
        error: message,
        failedAtMillis: Date.now(),
      });
      for (const sequence of claim.sequences) this.#outbox.removeSync(sequence);
      this.#claims.removeSync(key);
    });
    this.#removed(entries);
    this.#reportFailure(claim, entries, message);
  }

  /** Dead-letter access for {@link LmdbDeadLetters}. */
  deadLetterRecords(): EmbeddedTable<StoredDeadLetter, string> {
    return this.#dead;
  }

  /**
   * Inserts a dead letter now, with its original token (so rows that did land once are not added
   * again), and deletes it when that succeeds. Throws the insert's error otherwise.
   */
  async replay(id: string): Promise<boolean> {
    const record = this.#dead.get(id);
    if (record === undefined) return false;
    const job = await this.#mergedJob(
      record.claim,
      record.jobs.map((job) => ({ job })),
    );
    await this.#sink.insert(job, record.claim.token);
    await this.#dead.remove(id);
    return true;
  }
}

function versionKey(view: string, version: number): string {
  return `${view}@${version}`;
}

function firstSequence(claim: Claim): number {
  return claim.sequences[0] ?? Infinity;
}
