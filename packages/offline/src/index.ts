export type {
  ClickHouseExecutor,
  QueryParams,
  QuerySettings,
  QueryParamValue,
  FormattedQueryOptions,
  ExecuteOptions,
  RawInsertFormat,
  RawInsertOptions,
} from './executor.js';
export { ChdbExecutor } from './chdb-executor.js';
export type { ChdbExecutorOptions } from './chdb-executor.js';
export { HttpExecutor, DEFAULT_REQUEST_TIMEOUT_MILLIS } from './http-executor.js';
export type { HttpExecutorOptions } from './http-executor.js';
export {
  IS_NULL_SUFFIX,
  LOCAL_TABLE_SUFFIX,
  EVENT_TS_COLUMN,
  CREATED_TS_COLUMN,
  FP_COLUMN,
  ONLINE_GEN_COLUMN,
  REASON_COLUMN,
  REASON_TYPE,
  EXCLUDED_TABLE_SUFFIX,
  excludedTableName,
  offlineTablesOf,
  plainRowsSource,
  NON_REPLICATED_DEDUPLICATION_WINDOW,
  clickHouseTypeOf,
  joinKeyClickHouseType,
  isListType,
  assertIdentifier,
  quoteIdentifier,
  tableName,
  localTableName,
  physicalTableName,
  qualifiedName,
  columnsOf,
  createDatabaseSql,
  createTableSql,
  addColumnsSql,
} from './ddl.js';
export type { ClusterOptions, DdlOptions, ViewShape, OfflineColumn, OfflineTable } from './ddl.js';
export { ensureViewTables } from './migrate.js';
export {
  MIN_DATETIME64_MILLIS,
  MAX_DATETIME64_MILLIS,
  encodeTabSeparated,
  formatDouble,
  escapeTsvString,
  escapeQuotedString,
  escapeTsvBytes,
  formatDateTime64Millis,
  formatDateTime64Micros,
} from './tsv.js';
export type { TsvColumn } from './tsv.js';
export { encodeOfflineBatch, insertOfflineBatch, splitEventBatch } from './insert.js';
export type { InsertBatchOptions, EncodedBatch, InsertViewShape } from './insert.js';
export {
  ClickHouseOfflineStore,
  DEFAULT_OFFLINE_DATABASE,
  openEmbeddedOfflineStore,
  openHttpOfflineStore,
} from './clickhouse-offline-store.js';
export type {
  ClickHouseOfflineStoreOptions,
  EmbeddedOfflineStoreOptions,
  HttpOfflineStoreOptions,
} from './clickhouse-offline-store.js';
export { ClickHouseRegistryLog, REGISTRY_LOG_TABLE } from './clickhouse-registry-log.js';
export type { ClickHouseRegistryLogOptions } from './clickhouse-registry-log.js';
export { TableEnsuringOfflineStore, allViewVersions } from './table-ensuring-store.js';
export { guardEntitySql, ALLOWED_TABLE_FUNCTIONS, MAX_ENTITY_SQL_CHARS } from './historical/sql-guard.js';
export type { AllowedTables, EntitySqlGuardOptions } from './historical/sql-guard.js';
export { checkSqlView, refreshSqlView, renderSqlView } from './sql-view.js';
export type { RefreshSqlViewOptions } from './sql-view.js';
export { DEFAULT_HISTORICAL_QUERY_LIMITS, querySettings } from './historical/limits.js';
export type { HistoricalQueryLimits } from './historical/limits.js';
export { checkViewEntities, MIN_HOP_MILLIS } from './historical/view-entities.js';
export { DEFAULT_MAX_ENTITY_ROWS, HASH_JOIN_MAX_ENTITY_ROWS, runHistorical } from './historical/run.js';
export type { HistoricalPlan, HistoricalOptions } from './historical/run.js';
export {
  entitySourceParams,
  renderEntitySource,
  checkEntitySource,
  ENTITY_SOURCE_CLICKHOUSE_TYPES,
} from './historical/entity-source.js';
export { typedColumnsToArrow } from './historical/arrow-columns.js';
