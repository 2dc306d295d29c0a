/**
 * The DDL of the offline store, derived from registered views only (layout in
 * `@tessera/core` offline-store.ts). Identifiers are backquoted and must match the registry's
 * identifier rule: anything else means a bug upstream and is refused with INTERNAL, so no text
 * that did not pass the registry ever reaches SQL.
 */
import {
  IDENTIFIER_PATTERN,
  isEventView,
  MAX_IDENTIFIER_LENGTH,
  TesseraError,
  type JoinKeyType,
  type RegisteredView,
  type ValueType,
} from '@tessera/core';

/** Suffix of the 0/1 column that says a list feature has no value (ClickHouse has no Nullable arrays). */
export const IS_NULL_SUFFIX = '__is_null';
/** Suffix of the shard-local table behind a Distributed table in cluster mode. */
export const LOCAL_TABLE_SUFFIX = '_local';
/** Columns every offline table has, after the join keys. */
export const EVENT_TS_COLUMN = 'event_ts';
export const CREATED_TS_COLUMN = 'created_ts';
/** Event views (design §4.1): the event fingerprint, in the sorting key after `event_ts`. */
export const FP_COLUMN = 'fp';
/** Event views: the highest online tile generation holding the event (0 = not online). */
export const ONLINE_GEN_COLUMN = 'online_gen';
/** The `__excluded` side table of an event view: why the live write excluded the row. */
export const REASON_COLUMN = 'reason';
/** Suffix of an event view's side table of excluded (late, future) events. */
export const EXCLUDED_TABLE_SUFFIX = '__excluded';
/** The ClickHouse type of {@link REASON_COLUMN}: the codes of `EXCLUSION_LATE` / `EXCLUSION_FUTURE`. */
export const REASON_TYPE = "Enum8('late' = 1, 'future' = 2)";
/**
 * Inserts remembered for token deduplication on a non-replicated table (ClickHouse keeps none by
 * default there, so `insert_deduplication_token` would do nothing).
 */
export const NON_REPLICATED_DEDUPLICATION_WINDOW = 1000;

// Cluster names come from configuration, not the registry; hyphens are common in them.
const CLUSTER_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
// The longest table name: "fv_" + a 63-character view name + "__v" + version + "__excluded" + "_local".
const MAX_TABLE_NAME_LENGTH =
  3 + MAX_IDENTIFIER_LENGTH + 3 + 10 + EXCLUDED_TABLE_SUFFIX.length + LOCAL_TABLE_SUFFIX.length;

/** A ClickHouse cluster the tables are spread over (cluster mode). */
export interface ClusterOptions {
  /** Cluster name as in the servers' `remote_servers` configuration. */
  readonly name: string;
  /**
   * ZooKeeper/Keeper path prefix of the replicated tables; `{shard}` is the server macro.
   * Default `/clickhouse/tables/{shard}`.
   */
  readonly zooKeeperPathPrefix?: string;
  /** Replica name macro. Default `{replica}`. */
  readonly replicaName?: string;
}

/** Where the tables live. */
export interface DdlOptions {
  readonly database: string;
  /** Cluster mode: replicated shard-local tables `ON CLUSTER` behind a Distributed table. */
  readonly cluster?: ClusterOptions;
}

/** The partition of a row whose event time is `eventTs` (an SQL expression): its UTC month. */
export function partitionOf(eventTs: string): string {
  return `toYYYYMM(${eventTs})`;
}

/** The part of a view the DDL depends on. */
export type ViewShape = Pick<RegisteredView, 'name' | 'version' | 'joinKeys' | 'features' | 'kind'>;

/** One column of an offline table. */
export interface OfflineColumn {
  readonly name: string;
  /** ClickHouse type, e.g. `Nullable(Float64)`. */
  readonly type: string;
  /** `DEFAULT` expression, for columns whose default is not the type's default. */
  readonly defaultExpression?: string;
  readonly role: 'join_key' | 'event_ts' | 'created_ts' | 'fp' | 'online_gen' | 'reason' | 'feature' | 'is_null';
  /** For `feature` and `is_null` columns: index of the feature in `view.features`. */
  readonly featureIndex?: number;
}

/** The ClickHouse type of a feature of `type`. */
export function clickHouseTypeOf(type: ValueType): string {
  switch (type) {
    case 'int64':
      return 'Nullable(Int64)';
    case 'double':
      return 'Nullable(Float64)';
    case 'string':
      return 'Nullable(String)';
    case 'bool':
      return 'Nullable(Bool)';
    case 'timestamp':
      return "Nullable(DateTime64(3, 'UTC'))";
    case 'bytes':
      return 'Nullable(String)';
    case 'float_list':
      return 'Array(Float32)';
    case 'double_list':
      return 'Array(Float64)';
    case 'int64_list':
      return 'Array(Int64)';
    case 'string_list':
      return 'Array(String)';
  }
}

/** True for the feature types stored as an array plus an `__is_null` flag. */
export function isListType(type: ValueType): boolean {
  return type === 'float_list' || type === 'double_list' || type === 'int64_list' || type === 'string_list';
}

/** The ClickHouse type of a join key (never Nullable: keys are in the sorting key). */
export function joinKeyClickHouseType(type: JoinKeyType): string {
  switch (type) {
    case 'int64':
      return 'Int64';
    case 'string':
      return 'String';
  }
}

/** Checks a registry identifier (view, feature, join key, database); INTERNAL when it is not one. */
export function assertIdentifier(name: string, what: string): void {
  if (name.length === 0 || name.length > MAX_IDENTIFIER_LENGTH || !IDENTIFIER_PATTERN.test(name)) {
    throw new TesseraError(
      'INTERNAL',
      `refusing ${what} ${JSON.stringify(name)} in ClickHouse SQL: it does not match the registry identifier rule ` +
        `${IDENTIFIER_PATTERN.source} (at most ${MAX_IDENTIFIER_LENGTH} characters)`,
    );
  }
}

/** Backquotes an identifier after checking it (table names may be longer than registry names). */
export function quoteIdentifier(name: string, what = 'identifier'): string {
  if (name.length === 0 || name.length > MAX_TABLE_NAME_LENGTH || !IDENTIFIER_PATTERN.test(name)) {
    throw new TesseraError(
      'INTERNAL',
      `refusing ${what} ${JSON.stringify(name)} in ClickHouse SQL: it does not match the registry identifier rule ` +
        IDENTIFIER_PATTERN.source,
    );
  }
  return `\`${name}\``;
}

function quoteClusterName(name: string): string {
  if (!CLUSTER_NAME_PATTERN.test(name)) {
    throw new TesseraError(
      'INTERNAL',
      `refusing cluster name ${JSON.stringify(name)} in ClickHouse SQL: use letters, digits, _ and - (${CLUSTER_NAME_PATTERN.source})`,
    );
  }
  return `\`${name}\``;
}

/** The table of a view version: `fv_<view>__v<version>` (the Distributed table in cluster mode). */
export function tableName(view: Pick<RegisteredView, 'name' | 'version'>): string {
  assertIdentifier(view.name, 'view name');
  if (!Number.isSafeInteger(view.version) || view.version < 1) {
    throw new TesseraError(
      'INTERNAL',
      `refusing view version ${String(view.version)} of ${view.name}: not a positive integer`,
    );
  }
  return `fv_${view.name}__v${view.version}`;
}

/** The side table of an event view version's excluded events: `fv_<view>__v<version>__excluded`. */
export function excludedTableName(view: Pick<RegisteredView, 'name' | 'version'>): string {
  return `${tableName(view)}${EXCLUDED_TABLE_SUFFIX}`;
}

/** The shard-local table behind the Distributed table `table` (default: the view's main table) in cluster mode. */
export function localTableName(view: Pick<RegisteredView, 'name' | 'version'>, table = tableName(view)): string {
  return `${table}${LOCAL_TABLE_SUFFIX}`;
}

/**
 * Where the plain features of a view are read from: its table, or for an event view its main table
 * and `__excluded` together (`UNION ALL` of `columns`, quoted names): excluded events are excluded
 * from aggregations only — the plain features (last-writer-wins online, ASOF offline) see every
 * written row, as for any view. `final` reads each table `FINAL`.
 */
export function plainRowsSource(
  database: string,
  view: Pick<RegisteredView, 'name' | 'version' | 'kind'>,
  columns: readonly string[],
  final = false,
): string {
  const suffix = final ? ' FINAL' : '';
  if (!isEventView(view)) return `${qualifiedName(database, tableName(view))}${suffix}`;
  const list = [...new Set(columns)].join(', ');
  return (
    `(SELECT ${list} FROM ${qualifiedName(database, tableName(view))}${suffix} ` +
    `UNION ALL SELECT ${list} FROM ${qualifiedName(database, excludedTableName(view))}${suffix})`
  );
}

/** `` `db`.`table` `` with both parts checked. */
export function qualifiedName(database: string, table: string): string {
  assertIdentifier(database, 'database name');
  return `${quoteIdentifier(database, 'database name')}.${quoteIdentifier(table, 'table name')}`;
}

/** The columns of a view version's table, in table order. Throws INTERNAL on a name clash. */
export function columnsOf(view: ViewShape): OfflineColumn[] {
  const columns: OfflineColumn[] = [];
  for (const key of view.joinKeys) {
    assertIdentifier(key.name, `join key of ${view.name}`);
    columns.push({ name: key.name, type: joinKeyClickHouseType(key.type), role: 'join_key' });
  }
  columns.push({ name: EVENT_TS_COLUMN, type: "DateTime64(3, 'UTC')", role: 'event_ts' });
  columns.push({ name: CREATED_TS_COLUMN, type: "DateTime64(6, 'UTC')", role: 'created_ts' });
  if (isEventView(view)) {
    columns.push({ name: FP_COLUMN, type: 'FixedString(16)', role: 'fp' });
    columns.push({ name: ONLINE_GEN_COLUMN, type: 'UInt32', role: 'online_gen' });
  }
  view.features.forEach((feature, featureIndex) => {
    assertIdentifier(feature.name, `feature of ${view.name}`);
    columns.push({ name: feature.name, type: clickHouseTypeOf(feature.type), role: 'feature', featureIndex });
    if (isListType(feature.type)) {
      // DEFAULT 1: rows written before the feature existed read as "no value", not as an empty list.
      columns.push({
        name: `${feature.name}${IS_NULL_SUFFIX}`,
        type: 'UInt8',
        defaultExpression: '1',
        role: 'is_null',
        featureIndex,
      });
    }
  });
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column.name)) {
      throw new TesseraError(
        'INTERNAL',
        `view ${view.name}@${view.version} maps two things to the column ${column.name} ` +
          `(a feature named like a join key, a reserved column or another list feature's ${IS_NULL_SUFFIX} flag)`,
      );
    }
    seen.add(column.name);
  }
  return columns;
}

/** One offline table of a view version: its name (the Distributed one in cluster mode), columns and sorting key. */
export interface OfflineTable {
  readonly name: string;
  readonly columns: readonly OfflineColumn[];
  readonly orderBy: readonly string[];
}

/**
 * The tables of a view version: the main table, and for an event view its `__excluded` side table
 * (the main columns plus `reason`). Event tables order by (join keys, event_ts, fp): copies of one
 * event collapse under FINAL, distinct events at one time stay apart.
 */
export function offlineTablesOf(view: ViewShape): OfflineTable[] {
  const columns = columnsOf(view);
  const orderBy = [...view.joinKeys.map((key) => key.name), EVENT_TS_COLUMN];
  if (!isEventView(view)) return [{ name: tableName(view), columns, orderBy }];
  orderBy.push(FP_COLUMN);
  return [
    { name: tableName(view), columns, orderBy },
    {
      name: excludedTableName(view),
      columns: [...columns, { name: REASON_COLUMN, type: REASON_TYPE, role: 'reason' }],
      orderBy,
    },
  ];
}

function columnDefinition(column: OfflineColumn): string {
  const defaultClause = column.defaultExpression === undefined ? '' : ` DEFAULT ${column.defaultExpression}`;
  return `${quoteIdentifier(column.name, 'column name')} ${column.type}${defaultClause}`;
}

function onClusterClause(options: DdlOptions): string {
  return options.cluster === undefined ? '' : ` ON CLUSTER ${quoteClusterName(options.cluster.name)}`;
}

/** `CREATE DATABASE IF NOT EXISTS` (on every node in cluster mode). */
export function createDatabaseSql(options: DdlOptions): string {
  assertIdentifier(options.database, 'database name');
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(options.database, 'database name')}${onClusterClause(options)}`;
}

/**
 * The statements creating a view version's table(s), idempotently, in execution order: one
 * `CREATE TABLE` (single server, chDB), or the replicated shard-local table `ON CLUSTER` and then
 * the Distributed table over it, sharded by `sipHash64` of the join keys so an entity's rows live on
 * one shard.
 */
export function createTableSql(view: ViewShape, options: DdlOptions): string[] {
  return offlineTablesOf(view).flatMap((table) => createOneTableSql(view, table, options));
}

function createOneTableSql(view: ViewShape, table: OfflineTable, options: DdlOptions): string[] {
  const body = `(\n  ${table.columns.map(columnDefinition).join(',\n  ')}\n)`;
  const orderBy = table.orderBy.map((name) => quoteIdentifier(name)).join(', ');
  const layout = `PARTITION BY ${partitionOf(quoteIdentifier(EVENT_TS_COLUMN))}\n` + `ORDER BY (${orderBy})`;
  const { cluster } = options;
  if (cluster === undefined) {
    return [
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(options.database, table.name)}\n${body}\n` +
        `ENGINE = ReplacingMergeTree(${quoteIdentifier(CREATED_TS_COLUMN)})\n${layout}\n` +
        `SETTINGS non_replicated_deduplication_window = ${NON_REPLICATED_DEDUPLICATION_WINDOW}`,
    ];
  }
  const local = localTableName(view, table.name);
  const prefix = cluster.zooKeeperPathPrefix ?? '/clickhouse/tables/{shard}';
  const replica = cluster.replicaName ?? '{replica}';
  const zooKeeperPath = `${prefix}/${options.database}/${local}`;
  const shardingKey = `sipHash64(${view.joinKeys.map((key) => quoteIdentifier(key.name)).join(', ')})`;
  return [
    `CREATE TABLE IF NOT EXISTS ${qualifiedName(options.database, local)}${onClusterClause(options)}\n${body}\n` +
      `ENGINE = ReplicatedReplacingMergeTree(${stringLiteral(zooKeeperPath)}, ${stringLiteral(replica)}, ` +
      `${quoteIdentifier(CREATED_TS_COLUMN)})\n${layout}`,
    `CREATE TABLE IF NOT EXISTS ${qualifiedName(options.database, table.name)}${onClusterClause(options)}\n${body}\n` +
      `ENGINE = Distributed(${quoteClusterName(cluster.name)}, ${quoteIdentifier(options.database)}, ` +
      `${quoteIdentifier(local)}, ${shardingKey})`,
  ];
}

/**
 * The statements adding the columns of `view` that the existing table lacks (a compatible registry
 * change appends features to a view version), idempotently: shard-local tables first, then the
 * Distributed table, in cluster mode.
 */
export function addColumnsSql(
  view: ViewShape,
  missing: readonly OfflineColumn[],
  options: DdlOptions,
  table = tableName(view),
): string[] {
  if (missing.length === 0) return [];
  const clauses = missing.map((column) => `ADD COLUMN IF NOT EXISTS ${columnDefinition(column)}`).join(',\n  ');
  const alter = (name: string): string =>
    `ALTER TABLE ${qualifiedName(options.database, name)}${onClusterClause(options)}\n  ${clauses}`;
  return options.cluster === undefined ? [alter(table)] : [alter(localTableName(view, table)), alter(table)];
}

/** The table whose columns decide the migration (the shard-local one in cluster mode). */
export function physicalTableName(
  view: Pick<RegisteredView, 'name' | 'version'>,
  options: DdlOptions,
  table = tableName(view),
): string {
  return options.cluster === undefined ? table : localTableName(view, table);
}

// Only for text built from checked identifiers and fixed macros: refuse anything needing escapes.
function stringLiteral(text: string): string {
  if (!/^[A-Za-z0-9_{}/.-]*$/.test(text)) {
    throw new TesseraError('INTERNAL', `refusing ${JSON.stringify(text)} as a ClickHouse string literal in DDL`);
  }
  return `'${text}'`;
}
