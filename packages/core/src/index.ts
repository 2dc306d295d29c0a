export { VALUE_TYPES, JOIN_KEY_TYPES, ENTITY_SOURCE_PARAM_TYPES, VIEW_KINDS, AGGREGATION_FUNCTIONS } from './model.js';
export type {
  ValueType,
  JoinKeyType,
  FeatureValue,
  JoinKeyValue,
  JoinKeySpec,
  EntityDef,
  Constraints,
  FeatureDef,
  SourceDef,
  FeatureViewDef,
  OnDemandDef,
  OnDemandExpression,
  RequestFieldDef,
  FeatureServiceDef,
  EntitySourceDef,
  EntitySourceParamDef,
  EntitySourceParamType,
  Definitions,
  RegisteredView,
  ViewKind,
  AggregationFunction,
  AggregationState,
  EventOptions,
  AggregationDef,
  RegisteredAggregation,
  SqlViewDef,
} from './model.js';
export { ERROR_CODES, GRPC_CODE_NAMES, TesseraError, formatProblems, grpcCodeName, isTesseraError } from './errors.js';
export type { ErrorCode, GrpcCodeName, Problem, TesseraErrorOptions } from './errors.js';
export { pendingListField, rebuildMarkerField, retentionMillis } from './online-store.js';
export type {
  OnlineStore,
  OnlineLookup,
  OnlineWriteBatch,
  OnlineEvents,
  OnlineGroupEvents,
  OnlineReadOptions,
  OnlineWriteOptions,
  OnlineWriteResult,
  OnlineRebuildBatch,
  OnlineRebuildResult,
  RebuiltEntity,
} from './online-store.js';
export {
  MAX_ENTITY_KEY_BYTES,
  MAX_STRING_KEY_BYTES,
  entityKey,
  entityKeyProblem,
  keyValueProblem,
  viewField,
} from './keys.js';
export { IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH, RESERVED_COLUMN_NAMES } from './definitions/names.js';
export { parseTtl, formatTtl } from './definitions/ttl.js';
export type { TtlParseResult } from './definitions/ttl.js';
export {
  MAX_REF_LENGTH,
  checkRefLength,
  parseViewRef,
  parseFeatureRef,
  formatFeatureRef,
} from './definitions/ref-syntax.js';
export { MAX_QUOTED_CHARS, quoteInput, showName } from './quote.js';
export type { ViewRef, FeatureRef } from './definitions/ref-syntax.js';
export { validateDefinitions } from './definitions/validate.js';
export {
  DEFAULT_ALLOWED_LATENESS_MILLIS,
  MAX_ALLOWED_LATENESS_MILLIS,
  DEFAULT_FUTURE_TOLERANCE_MILLIS,
  MAX_FUTURE_TOLERANCE_MILLIS,
  ALLOWED_HOPS_MILLIS,
  MAX_WINDOW_MILLIS,
  MAX_TILES_PER_WINDOW,
  MAX_AGGREGATIONS_PER_VIEW,
  MAX_DISTINCT_HOPS_PER_VIEW,
  MAX_APPROX_DISTINCT_PER_VIEW,
  MAX_LAST_N,
  MIN_HLL_PRECISION,
  MAX_HLL_PRECISION,
  DEFAULT_HLL_PRECISION,
  defaultHopMillis,
  effectiveHopMillis,
  effectiveEventOptions,
  aggregationResultType,
  formatWindow,
  describeAggregationShape,
} from './definitions/aggregation-rules.js';
export { windowAndHopProblem, futureToleranceProblems } from './definitions/validate-aggregations.js';
export { MAX_ENTITY_SOURCE_SQL_CHARS } from './definitions/validate-entity-source.js';
export { parseRepository } from './definitions/yaml-repository.js';
export type { RepositoryFile, ParseRepositoryResult } from './definitions/yaml-repository.js';
export { emptyRegistryState, latestView, findViewVersion, listLatestViews } from './registry/state.js';
export type { RegistryState, ViewLineage } from './registry/state.js';
export { planApply } from './registry/plan.js';
export type { Change, ChangeKind, RegistryObjectType, PlanApplyOptions, ApplyPlan } from './registry/plan.js';
export { resolveFeatureRefs, featureRefsKey, FeatureRefCache } from './registry/refs.js';
export type {
  FeatureRefsInput,
  ResolvedView,
  ResolvedFeature,
  ResolvedFeatures,
  FeatureRefCacheOptions,
} from './registry/refs.js';
export {
  REGISTRY_STATE_FORMAT,
  registryStateToJson,
  registryStateFromJson,
  serializeRegistryState,
  deserializeRegistryState,
  toJsonSafe,
  fromJsonSafe,
} from './registry/serialize.js';
export type { JsonValue } from './registry/serialize.js';
export type { RegistryLog, RegistryLogEntry, RegistryLogRecord } from './registry/log.js';
export { encodeRegistryRecord, decodeRegistryRecord } from './registry/log.js';
export { viewHistory } from './registry/history.js';
export type { ViewVersionHistory } from './registry/history.js';
export { ROW_FORMAT_VERSION, ROW_HEADER_BYTES } from './codec/row-format.js';
export { RowEncoder, encodeRow } from './codec/row-encoder.js';
export { RowDecoder, decodeRow, readRowEventTs } from './codec/row-decoder.js';
export {
  MAX_TIMESTAMP_MILLIS,
  TIMESTAMP_FORMATS_HINT,
  parseTimestamp,
  formatTimestamp,
  nowMicros,
} from './timestamps.js';
export { WRONG_TYPE, coerceFeatureValue, coerceJoinKey, formatValue, describeValue } from './values.js';
export {
  DEFAULT_MAX_PROBLEMS,
  MAX_LIST_LENGTH,
  MAX_VALUE_BYTES,
  MIN_EVENT_TS_MILLIS,
  validateWriteBatch,
} from './validate-write.js';
export type { WriteBatchInput, ValidateWriteOptions, ValidatedBatch } from './validate-write.js';
export type {
  OfflineStore,
  OfflineBatch,
  OfflineInsertOptions,
  TypedColumn,
  EntityRowsInput,
  HistoricalRequest,
  HistoricalChunk,
  OfflineRow,
  LatestRowsRange,
  EventRowsRange,
  OfflineEventRow,
  SqlViewInterval,
  SqlViewRefreshOptions,
} from './offline-store.js';
export {
  EXCLUSION_NONE,
  EXCLUSION_LATE,
  EXCLUSION_FUTURE,
  isEventView,
  batchFingerprints,
  batchExclusions,
} from './event-rows.js';
export type { ExclusionCounts } from './event-rows.js';
export { SCOPES, API_KEY_NAME_PATTERN, checkApiKeyName, scopeAllows, parseScopes } from './api-keys.js';
export type { Scope, ApiKeyRecord, ApiKeyStore } from './api-keys.js';
export { withOnlineGenerations } from './ports/write-behind.js';
export type {
  DeadLetter,
  DeadLetters,
  LatencySummary,
  OnlineWrite,
  WriteBehind,
  WriteBehindOptions,
  WriteBehindStats,
} from './ports/write-behind.js';
export type { IdempotencyClaim, IdempotencyStore, RecordedResult } from './ports/idempotency.js';
export type { MaterializeState } from './ports/materialize-state.js';
export type { ServerHeartbeats } from './ports/server-heartbeats.js';
export type {
  EmbeddedEnvironment,
  EmbeddedOnlineStore,
  EmbeddedRangeOptions,
  EmbeddedTable,
} from './ports/embedded-environment.js';
export type {
  MaterializeCounts,
  MaterializeQueue,
  MaterializeViewProgress,
  MaterializeViewRequest,
} from './ports/materialize-queue.js';
export { silentLogger, stderrLogger } from './logger.js';
export type { Logger, LogFields, LogMethod } from './logger.js';
// Window aggregations (design docs/design/window-aggregations.md §1, §3.2): pure spec, no I/O.
export {
  MINUTE_MILLIS,
  HOUR_MILLIS,
  DAY_MILLIS,
  UNBOUNDED_WINDOW,
  floorTo,
  windowStart,
  tileIndex,
  inWindow,
} from './aggregation/window.js';
export { eventEligibility } from './aggregation/eligibility.js';
export type { Eligibility } from './aggregation/eligibility.js';
export {
  FINGERPRINT_BYTES,
  FingerprintEncoder,
  compareFingerprints,
  compareEventOrder,
} from './aggregation/fingerprint.js';
export {
  hllCodeOfBytes,
  hllCodeOfString,
  hllCodeOfInt64,
  hllBucket,
  hllRho,
  newHllRegisters,
  hllAdd,
  hllMergeRegisters,
  hllEstimate,
  hllEstimateFromHistogram,
} from './aggregation/hll.js';
export type { HllCode } from './aggregation/hll.js';
export {
  toAggregationSpec,
  isFixedWidthAggregation,
  onlineAggregationIndexes,
  groupedAggregationIndexes,
} from './aggregation/spec.js';
export { MAX_GROUP_VALUE_BYTES, encodeGroupValue, groupField, groupValueProblem } from './aggregation/group-field.js';
export type { AggregationInputType, AggregationInput, AggregationSpec } from './aggregation/spec.js';
export { LAST_SLOT_BYTES, compileTileLayout } from './aggregation/layout.js';
export type { TileLayout, TileSlot, AggregationSlots, SlotKind, SlotValueKind } from './aggregation/layout.js';
export { initRecord, newRecord, foldEvent, mergeRecord, slotPresent } from './aggregation/record.js';
export { emptyWindowValue, finalizeMean, finalizeRecord } from './aggregation/finalize.js';
export {
  TILE_LIST_FORMAT,
  TILE_LIST_HEADER_BYTES,
  TILE_INDEX_BYTES,
  tileListNewestEventTs,
  tileListRecords,
  foldIntoTileList,
  mergeTileRange,
  pruneTileList,
} from './aggregation/tile-list.js';
export {
  VARIABLE_RECORD_HEADER_BYTES,
  HLL_DENSE,
  forEachVariableRecord,
  updateVariableRecord,
  pruneVariableList,
  hllPayloadAdd,
  hllPayloadMergeInto,
  HllUnion,
  lastStringPayloadFold,
  lastStringPayloadNewer,
  lastStringPayloadValue,
} from './aggregation/variable-list.js';
export { lastNListInsert, lastNListValue } from './aggregation/last-n-list.js';
export {
  hopFieldName,
  compileAggregationPlan,
  foldEventIntoFields,
  readAggregations,
  pruneAggregationFields,
} from './aggregation/entity-state.js';
export type { AggregationFields, AggregationPlan } from './aggregation/entity-state.js';
export {
  PENDING_LIST_FORMAT,
  eventRecordLayout,
  encodeEventRecord,
  decodeEventRecord,
  encodePendingList,
  pendingListRecords,
} from './aggregation/event-record.js';
export type { EventRecordLayout, EventRecord } from './aggregation/event-record.js';
export {
  DEDUP_MARGIN_MILLIS,
  aggregationFieldNames,
  applyEntityEvents,
  mapEventDedup,
  fingerprintHex,
} from './aggregation/apply-events.js';
export type {
  EventDedupView,
  EntityEventsInput,
  EntityEventsResult,
  GenerationResult,
  GenerationState,
} from './aggregation/apply-events.js';
export { ON_DEMAND_MAX_EXPRESSION_BYTES, ON_DEMAND_TYPES, celTypeOf, compileOnDemand } from './on-demand/cel.js';
export type { CompileResult, OnDemandInput, OnDemandProgram, OnDemandRow, OnDemandScope } from './on-demand/cel.js';
export { compiledOnDemandView, onDemandScope } from './on-demand/scope.js';
export type { CompiledOnDemandView, InputProblem } from './on-demand/scope.js';
export { evaluateOnDemandColumn } from './on-demand/evaluate.js';
export type { OnDemandColumns } from './on-demand/evaluate.js';
export {
  MAX_SQL_VIEW_CHARS,
  SQL_VIEW_END_PARAMETER,
  SQL_VIEW_START_PARAMETER,
  parseSqlViewText,
  resolveSqlViewText,
} from './sql-view/placeholders.js';
export type { SqlViewPlaceholder } from './sql-view/placeholders.js';
export { SQL_VIEW_FEATURE_TYPES } from './definitions/validate-sql-view.js';
export { describeSqlView } from './registry/sql-view-diff.js';
export { backfillDays, sqlViewRefreshInterval } from './sql-view/schedule.js';
