/**
 * Write-behind for the embedded server, without BullMQ: the online write and an outbox entry commit
 * in one LMDB transaction (so a Write is acknowledged only once both are on disk), and a drainer in
 * the same process inserts outbox entries into the offline store.
 *
 * Exactly once across `kill -9`: before inserting, the drainer records a claim (a deduplication
 * token and the entries it covers) in LMDB; after the insert it deletes the entries and the claim
 * in one transaction. A process that dies in between finds the claim on restart and inserts the
 * same entries with the same token, which ClickHouse drops if the first insert had landed.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from 'lmdb';
import { TesseraError, nowMicros, type OfflineBatch, type OnlineWriteResult, type RegisteredView } from '@tessera/core';
import type { LmdbOnlineStore } from '@tessera/online';
import type {
  DeadLetter,
  DeadLetters,
  OnlineWrite,
  WriteBehind,
  WriteBehindOptions,
  WriteBehindStats,
} from './contract.js';
import { debugWriteBehind } from './debug.js';
import { decodeOfflineJob, encodeOfflineJob, type OfflineJobData } from './offline-job.js';
import { PoisonJobError, type FindView, type OfflineStoreSink } from './sink.js';

export interface LmdbWriteBehindOptions {
  /** The embedded online store: the outbox lives in its LMDB environment. */
  readonly store: LmdbOnlineStore;
  readonly sink: OfflineStoreSink;
  /** The view of a job, to merge the rows of several Writes (the registry's lookup). */
  readonly findView: FindView;
  /** Most rows one insert carries. Default 50,000. */
  readonly maxInsertRows?: number;
  /** How long the drainer lets Writes gather before an insert, ms. Default 5. */
  readonly gatherMillis?: number;
  /** Insert attempts before the entries become a dead letter. Default 12. */
  readonly attempts?: number;
  /** First retry delay, doubled per attempt (at most a minute), ms. Default 500. */
  readonly backoffMillis?: number;
  /** Start draining at once. Default true (tests start it themselves to stage a crash). */
  readonly autoStart?: boolean;
}

interface OutboxEntry {
  readonly job: OfflineJobData;
  /** A write's own deduplication token (idempotency keys): inserted alone, under it. */
  readonly token?: string;
}

/** Entries being inserted under one token; survives a crash. */
interface Claim {
  readonly token: string;
  readonly view: string;
  readonly version: number;
  readonly sequences: number[];
  readonly attempts: number;
  readonly lastError?: string;
  /** Set (on disk) before the first insert: from then on the token and entries never change. */
  readonly inserting?: boolean;
}

/** A claim that exhausted its attempts (or can never succeed), kept whole under its token. */
interface StoredDeadLetter {
  readonly claim: Claim;
  readonly jobs: readonly OfflineJobData[];
  readonly error: string;
  readonly failedAtMillis: number;
}

const CLAIM_KEY = 'current';
const MAX_BACKOFF_MILLIS = 60_000;
const SCAN_ENTRIES = 10_000;

export class LmdbWriteBehind implements WriteBehind {
  readonly deadLetters: DeadLetters;
  readonly #store: LmdbOnlineStore;
  readonly #sink: OfflineStoreSink;
  readonly #findView: FindView;
  readonly #outbox: Database<OutboxEntry, number>;
  readonly #claims: Database<Claim, string>;
  readonly #dead: Database<StoredDeadLetter, string>;
  readonly #maxInsertRows: number;
  readonly #gatherMillis: number;
  readonly #attempts: number;
  readonly #backoffMillis: number;
  #nextSequence: number;
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
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
    this.#attempts = options.attempts ?? 12;
    this.#backoffMillis = options.backoffMillis ?? 500;
    let last = 0;
    for (const key of this.#outbox.getKeys({ reverse: true, limit: 1 })) last = key;
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
    const job = encodeOfflineJob(view, [{ batch: offline, createdTsMicros: nowMicros() }]);
    const entry: OutboxEntry = options.token === undefined ? { job } : { job, token: options.token };
    const result = await this.#store.writeWith(online?.batch, () => {
      this.#outbox.putSync(this.#nextSequence, entry);
      this.#nextSequence++;
    });
    this.#schedule(this.#gatherMillis);
    return result;
  }

  /** Starts the drainer (a claim left by a crash is finished first). */
  start(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#schedule(0);
  }

  stats(): Promise<WriteBehindStats> {
    let pendingJobs = 0;
    let pendingRows = 0;
    let oldest = Infinity;
    for (const { value } of this.#outbox.getRange()) {
      pendingJobs++;
      pendingRows += value.job.rowCount;
      oldest = Math.min(oldest, value.job.enqueuedAtMillis);
    }
    return Promise.resolve({
      pendingJobs,
      pendingRows,
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
    clearTimeout(this.#timer);
    const deadline = Date.now() + timeoutMillis;
    const untilDeadline = <T>(work: Promise<T> | undefined): Promise<T | undefined> =>
      Promise.race([
        work,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()))),
      ]);
    if (this.#running) {
      while (Date.now() < deadline) {
        await untilDeadline(this.#draining);
        const progressed = await untilDeadline(this.#drainOnce().catch(() => false));
        if (progressed !== true) break;
      }
    }
    // What is left stays in the outbox (claims included) for the next start.
    this.#running = false;
  }

  /** Waits until the outbox is empty (or `timeoutMillis` passes); true when it is. */
  async drained(timeoutMillis = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMillis;
    while (Date.now() < deadline) {
      if (this.#outbox.getKeysCount({ limit: 1 }) === 0 && this.#claims.get(CLAIM_KEY) === undefined) return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return false;
  }

  #schedule(delayMillis: number): void {
    if (!this.#running || this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#draining !== undefined) return;
      this.#draining = this.#drainLoop().finally(() => {
        this.#draining = undefined;
      });
    }, delayMillis);
  }

  async #drainLoop(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      let progressed: boolean;
      try {
        progressed = await this.#drainOnce();
      } catch (error) {
        const claim = this.#claims.get(CLAIM_KEY);
        const delay = Math.min(MAX_BACKOFF_MILLIS, this.#backoffMillis * 2 ** Math.max(0, (claim?.attempts ?? 1) - 1));
        debugWriteBehind(`drain failed (${(error as Error).message}); next attempt in ${delay} ms`);
        this.#schedule(delay);
        return;
      }
      if (!progressed) return;
    }
  }

  /** One insert: the pending claim, or a new one over the oldest entries. False when nothing is left. */
  async #drainOnce(): Promise<boolean> {
    const claim = this.#claims.get(CLAIM_KEY) ?? this.#claimNext();
    if (claim === undefined) return false;
    const present = claim.sequences
      .map((sequence) => this.#outbox.get(sequence))
      .filter((entry): entry is OutboxEntry => entry !== undefined);
    if (present.length === 0) {
      await this.#claims.remove(CLAIM_KEY);
      return true;
    }
    let job: OfflineJobData;
    try {
      job = await this.#mergedJob(claim, present);
    } catch (error) {
      // A claim that may have reached ClickHouse keeps its token and entries: retried as it is.
      if (claim.inserting === true) throw error;
      if (claim.sequences.length > 1) {
        // One entry spoils the merge, and nothing was inserted under this claim: go one entry at a
        // time until it is passed.
        const first = claim.sequences.slice(0, 1);
        await this.#claims.put(CLAIM_KEY, { ...claim, token: randomUUID(), sequences: first });
        return true;
      }
      this.#bury(claim, present, error);
      return true;
    }
    if (claim.inserting !== true) await this.#claims.put(CLAIM_KEY, { ...claim, inserting: true });
    try {
      await this.#sink.insert(job, claim.token);
    } catch (error) {
      const attempts = claim.attempts + 1;
      const message = (error as Error).message;
      if (error instanceof PoisonJobError || attempts >= this.#attempts) {
        this.#bury({ ...claim, attempts }, present, error);
        return true;
      }
      await this.#claims.put(CLAIM_KEY, { ...claim, attempts, lastError: message });
      throw error;
    }
    this.#store.transaction(() => {
      for (const sequence of claim.sequences) this.#outbox.removeSync(sequence);
      this.#claims.removeSync(CLAIM_KEY);
    });
    return true;
  }

  /** Claims the oldest entries of the first entry's view version, up to the insert size. */
  #claimNext(): Claim | undefined {
    return this.#store.transaction(() => {
      let first: OfflineJobData | undefined;
      const sequences: number[] = [];
      let rows = 0;
      let token: string | undefined;
      for (const { key, value } of this.#outbox.getRange({ limit: SCAN_ENTRIES })) {
        if (first === undefined) {
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
      this.#claims.putSync(CLAIM_KEY, claim);
      return claim;
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
  #bury(claim: Claim, entries: readonly OutboxEntry[], error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    debugWriteBehind(`dead letter ${claim.token} (${claim.view}@${claim.version}): ${message}`);
    this.#store.transaction(() => {
      this.#dead.putSync(claim.token, {
        claim,
        jobs: entries.map((entry) => entry.job),
        error: message,
        failedAtMillis: Date.now(),
      });
      for (const sequence of claim.sequences) this.#outbox.removeSync(sequence);
      this.#claims.removeSync(CLAIM_KEY);
    });
  }

  /** Dead-letter access for {@link LmdbDeadLetters}. */
  deadLetterRecords(): Database<StoredDeadLetter, string> {
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

class LmdbDeadLetters implements DeadLetters {
  readonly #owner: LmdbWriteBehind;

  constructor(owner: LmdbWriteBehind) {
    this.#owner = owner;
  }

  list(limit = 100): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    for (const { key, value } of this.#owner.deadLetterRecords().getRange({ limit }))
      letters.push(letterOf(key, value));
    return Promise.resolve(letters);
  }

  get(id: string): Promise<DeadLetter | undefined> {
    const value = this.#owner.deadLetterRecords().get(id);
    return Promise.resolve(value === undefined ? undefined : letterOf(id, value));
  }

  replay(id: string): Promise<boolean> {
    return this.#owner.replay(id);
  }

  async drop(id: string): Promise<boolean> {
    const records = this.#owner.deadLetterRecords();
    // lmdb's remove() resolves true for a missing key too.
    if (records.get(id) === undefined) return false;
    return records.remove(id);
  }
}

function letterOf(id: string, record: StoredDeadLetter): DeadLetter {
  return {
    id,
    view: record.claim.view,
    version: record.claim.version,
    rowCount: record.jobs.reduce((sum, job) => sum + job.rowCount, 0),
    attempts: record.claim.attempts,
    error: record.error,
    enqueuedAtMillis: Math.min(...record.jobs.map((job) => job.enqueuedAtMillis)),
    failedAtMillis: record.failedAtMillis,
  };
}
