/**
 * The write-behind contract is a port of `@tessera/core` (the server depends on it, this package
 * implements it); named here for this package's files, with the consumer side that only it uses.
 */
import type { OfflineJobData } from './offline-job.js';

export type {
  DeadLetter,
  DeadLetters,
  LatencySummary,
  OnlineWrite,
  WriteBehind,
  WriteBehindOptions,
  WriteBehindStats,
} from '@tessera/core';

/** Where a consumer puts a job: the offline store, with the job id as deduplication token. */
export interface OfflineJobSink {
  insert(job: OfflineJobData, dedupToken: string): Promise<void>;
}
