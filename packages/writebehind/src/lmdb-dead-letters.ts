import type { EmbeddedTable } from '@tessera/core';
import type { DeadLetter, DeadLetters } from './contract.js';
import type { OfflineJobData } from './offline-job.js';

/** Entries being inserted under one token; survives a crash. */
export interface Claim {
  readonly token: string;
  readonly view: string;
  readonly version: number;
  readonly sequences: number[];
  /** Failed attempts so far. */
  readonly attempts: number;
  readonly lastError?: string;
  /** Set (on disk) before the first insert: from then on the token and entries never change. */
  readonly inserting?: boolean;
  /** Not attempted again before this moment, ms since the epoch (backoff after a failure). */
  readonly retryAtMillis?: number;
}

/** A claim that exhausted its attempts (or can never succeed), kept whole under its token. */
export interface StoredDeadLetter {
  readonly claim: Claim;
  readonly jobs: readonly OfflineJobData[];
  readonly error: string;
  readonly failedAtMillis: number;
}

/** What {@link LmdbDeadLetters} needs of the write-behind that owns the records. */
export interface DeadLetterOwner {
  deadLetterRecords(): EmbeddedTable<StoredDeadLetter, string>;
  replay(id: string): Promise<boolean>;
}

/** The embedded dead letters: an LMDB database beside the outbox. */
export class LmdbDeadLetters implements DeadLetters {
  readonly #owner: DeadLetterOwner;

  constructor(owner: DeadLetterOwner) {
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
