export { MATERIALIZE_BATCH_ROWS, materializeView } from './materialize-view.js';
export type { MaterializeProgressEvent } from './materialize-view.js';
export { inProcessRunner, materializeKey, queuedRunner } from './tasks.js';
export type { MaterializeRunner, MaterializeTask, MaterializeTaskProgress } from './tasks.js';
export { materializePartRunner } from './part-runner.js';
export type { MaterializePart, RunMaterializePart } from './part-runner.js';
export {
  MAX_BACKFILL_DAYS,
  backfillSqlView,
  backfillStateKey,
  refreshSqlViewInterval,
  sqlRefreshTickRunner,
  sqlViewDedupToken,
} from './sql-view.js';
export type { SqlViewBackfillProgress } from './sql-view.js';
export {
  DEFAULT_MAX_CATCH_UP_INTERVALS,
  DEFAULT_SQL_VIEW_TIMER_INTERVAL_MILLIS,
  SqlViewTimer,
  readersLast,
  refreshStateKey,
} from './sql-view-timer.js';
export type { SqlViewRefreshResult, SqlViewTimerOptions } from './sql-view-timer.js';
export {
  DEFAULT_REBUILD_PARTS,
  REBUILD_BATCH_ENTITIES,
  REBUILD_BATCH_EVENTS,
  rebuildAggregationsPart,
  rebuildPlanOf,
  rebuildStateKeys,
  rebuildViewAggregations,
  servedGeneration,
} from './rebuild-aggregations.js';
export type { RebuildPartProgress, RebuildPlan, RebuildProgress } from './rebuild-aggregations.js';
export {
  HEARTBEAT_TTL_MILLIS,
  REBUILD_BARRIER_TIMEOUT_MILLIS,
  SERVER_HEARTBEAT_MILLIS,
  rebuildAck,
  rebuildBarrier,
} from './rebuild-barrier.js';
export type { RebuildBarrier, RebuildBarrierDeps, RebuildParticipant } from './rebuild-barrier.js';
