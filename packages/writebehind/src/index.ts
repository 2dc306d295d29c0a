export type {
  DeadLetter,
  DeadLetters,
  LatencySummary,
  OfflineJobSink,
  OnlineWrite,
  WriteBehind,
  WriteBehindOptions,
  WriteBehindStats,
} from './contract.js';
export { GroupCommit } from './group-commit.js';
export type { GroupCommitLimits } from './group-commit.js';
export { encodeOfflineJob, decodeOfflineJob } from './offline-job.js';
export type { AcceptedBatch, OfflineJobData } from './offline-job.js';
export { OfflineStoreSink, LatencyWindow, PoisonJobError } from './sink.js';
export type { FindView, InsertObserver, OfflineStoreSinkOptions } from './sink.js';
export { OFFLINE_QUEUE, queuePrefix } from './bullmq-queue.js';
export type { RedisNode } from './bullmq-queue.js';
export { BullmqWriteBehind, DEFAULT_GROUP_COMMIT } from './bullmq-write-behind.js';
export type { BullmqWriteBehindOptions } from './bullmq-write-behind.js';
export { BullmqDeadLetters } from './bullmq-dead-letters.js';
export { startOfflineWriter, openBullmqDeadLetters } from './bullmq-writer.js';
export type { OfflineWriter, OfflineWriterOptions } from './bullmq-writer.js';
export { LmdbWriteBehind, MAX_BACKOFF_MILLIS } from './lmdb-write-behind.js';
export { LmdbDeadLetters } from './lmdb-dead-letters.js';
export { countedFailureReport, formatWriteBehindFailure, logWriteBehindFailure } from './failure-report.js';
export type { WriteBehindFailure, ReportWriteBehindFailure } from './failure-report.js';
export type { LmdbWriteBehindOptions } from './lmdb-write-behind.js';
export { BullmqMaterializer, MATERIALIZE_QUEUE, startMaterializeWorker } from './materialize-queue.js';
export type { MaterializeJobData } from './materialize-queue.js';
// Named here too for code written before they became core's materialization-queue port.
export type { MaterializeCounts, MaterializeViewProgress, MaterializeViewRequest } from '@tessera/core';
export {
  BullmqSqlRefreshScheduler,
  SQL_REFRESH_QUEUE,
  sqlRefreshSchedulerId,
  startSqlRefreshWorker,
  tickMillisOf,
} from './sql-refresh-queue.js';
export type { SqlRefreshJobData, SqlRefreshSchedule } from './sql-refresh-queue.js';
