// The historical bench's data: three feature views × 10 Float64 features built as registry objects,
// their tables made by Tessera's own DDL, filled by `INSERT … SELECT … FROM numbers()` in chDB, and
// the entity-row tables both contenders read. Shared by the parent (parameters, cache key) and the
// child processes (SQL).
import { tableFromIPC } from 'apache-arrow';
import type { FeatureDef, RegisteredView } from '@tessera/core';
import type { ClickHouseExecutor } from '@tessera/offline';

export const DATABASE = 'bench_historical';
export const JOIN_KEY = 'entity_id';
export const VIEW_NAMES = ['hist_a', 'hist_b', 'hist_c'] as const;
export const FEATURES_PER_VIEW = 10;
/** Events per entity in every view; the population is rowsPerView / this. */
export const EVENTS_PER_ENTITY = 10;
/** The year the feature rows and entity timestamps fall in. */
export const YEAR_START = '2025-01-01 00:00:00';
export const YEAR_MILLIS = 365 * 86_400_000;
/** Bumped when the generated data changes, so a cached data directory is not reused. */
export const DATA_FORMAT_VERSION = 1;

/** What the prepared data directory holds; equal parameters mean the cache can be reused. */
export interface DataParams {
  readonly formatVersion: number;
  readonly rowsPerView: number;
  readonly entities: number;
  readonly views: number;
  readonly featuresPerView: number;
  readonly entityRowCounts: readonly number[];
  readonly chdb: string;
}

export function dataParams(rowsPerView: number, entityRowCounts: readonly number[], chdb: string): DataParams {
  return {
    formatVersion: DATA_FORMAT_VERSION,
    rowsPerView,
    entities: Math.max(1, Math.floor(rowsPerView / EVENTS_PER_ENTITY)),
    views: VIEW_NAMES.length,
    featuresPerView: FEATURES_PER_VIEW,
    entityRowCounts: [...entityRowCounts].sort((a, b) => a - b),
    chdb,
  };
}

/** Feature `f<index>`, a nullable double. */
function feature(index: number): FeatureDef {
  return {
    name: `f${index}`,
    type: 'double',
    dimension: 0,
    constraints: { notNull: false, allowNaN: true },
    description: '',
    tags: {},
  };
}

/** Views of `features` double features keyed by one int64 `joinKey`, as the registry would hold them. */
export function doubleViews(
  names: readonly string[],
  options: { entity: string; joinKey: string; features: number; ttlSeconds: number; description: string },
): RegisteredView[] {
  return names.map((name, i) => ({
    name,
    entities: [options.entity],
    features: Array.from({ length: options.features }, (_, f) => feature(f)),
    ttlSeconds: options.ttlSeconds,
    owner: 'bench',
    tags: {},
    description: `${options.description} ${i}`,
    id: i + 1,
    version: 1,
    joinKeys: [{ name: options.joinKey, type: 'int64' }],
    createdAtMillis: 0,
    updatedAtMillis: 0,
  }));
}

/** The three views (no TTL: every older value stays eligible). */
export function benchViews(): RegisteredView[] {
  return doubleViews(VIEW_NAMES, {
    entity: 'entity',
    joinKey: JOIN_KEY,
    features: FEATURES_PER_VIEW,
    ttlSeconds: 0,
    description: 'historical bench view',
  });
}

/**
 * Fills one view table: row `number` is entity `number % entities`, its event `number / entities`
 * in that entity's history; each event falls at a hashed moment inside its own slice of the year,
 * so (entity, event_ts) is unique and the ReplacingMergeTree has nothing to collapse. Features are
 * hashes scaled to [0, 1): they compress about as badly as real values.
 */
export function fillViewSql(qualifiedTable: string, viewIndex: number, params: DataParams): string {
  const events = Math.max(1, Math.ceil(params.rowsPerView / params.entities));
  const slotMillis = Math.floor(YEAR_MILLIS / events);
  const features = Array.from(
    { length: params.featuresPerView },
    (_, f) => `cityHash64(number, ${viewIndex * 100 + f}) / 18446744073709551616.0`,
  );
  return (
    `INSERT INTO ${qualifiedTable} (${JOIN_KEY}, event_ts, created_ts, ${features.map((_, f) => `f${f}`).join(', ')}) ` +
    `SELECT toInt64(number % ${params.entities}), ` +
    `toDateTime64('${YEAR_START}', 3, 'UTC') + toIntervalMillisecond(intDiv(number, ${params.entities}) * ${slotMillis} + cityHash64(number, ${viewIndex}, 7) % ${slotMillis}), ` +
    `toDateTime64('2026-01-01 00:00:00', 6, 'UTC'), ${features.join(', ')} ` +
    `FROM numbers(${params.rowsPerView})`
  );
}

export function entityTable(rows: number): string {
  return `${DATABASE}.entities_${rows}`;
}

/** Entity rows: random entities and random moments of the year (seeded by the row number). */
export function entityTableSql(rows: number, params: DataParams): string[] {
  const table = entityTable(rows);
  return [
    `DROP TABLE IF EXISTS ${table}`,
    `CREATE TABLE ${table} (n UInt64, ${JOIN_KEY} Int64, event_ts DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY n`,
    `INSERT INTO ${table} SELECT number, toInt64(cityHash64(number, 11) % ${params.entities}), ` +
      `toDateTime64('${YEAR_START}', 3, 'UTC') + toIntervalMillisecond(cityHash64(number, 13) % ${YEAR_MILLIS}) ` +
      `FROM numbers(${rows})`,
  ];
}

/**
 * The plain query: the entity rows ASOF LEFT JOIN each whole view table, `join_use_nulls = 1` so a
 * miss is NULL, ClickHouse's default (hash) join, no pruning, no FINAL, no ordering.
 */
export function plainQuerySql(qualifiedTables: readonly string[], rows: number, featuresPerView: number): string {
  const select = [`e.${JOIN_KEY}`, 'e.event_ts'];
  const joins = qualifiedTables.map((table, v) => {
    for (let f = 0; f < featuresPerView; f += 1) select.push(`v${v}.f${f} AS ${VIEW_NAMES[v] ?? `v${v}`}__f${f}`);
    return `ASOF LEFT JOIN ${table} AS v${v} ON e.${JOIN_KEY} = v${v}.${JOIN_KEY} AND e.event_ts >= v${v}.event_ts`;
  });
  return (
    `SELECT ${select.join(', ')} FROM ${entityTable(rows)} AS e ${joins.join(' ')} ` +
    `SETTINGS join_use_nulls = 1, output_format_arrow_compression_method = 'none'`
  );
}

function featureList(featuresPerView: number): string {
  return Array.from({ length: featuresPerView }, (_, f) => `f${f}`).join(', ');
}

/** What a request over `rows` entity rows reads of one table: its keys, up to its latest moment (no TTL). */
export function prunedSelectSql(qualifiedTable: string, rows: number, featuresPerView: number): string {
  return (
    `SELECT ${JOIN_KEY}, event_ts, ${featureList(featuresPerView)} FROM ${qualifiedTable} ` +
    `WHERE ${JOIN_KEY} IN (SELECT ${JOIN_KEY} FROM ${entityTable(rows)}) ` +
    `AND event_ts <= (SELECT max(event_ts) FROM ${entityTable(rows)})`
  );
}

/** The read floor: every needed column of the whole tables read once, discarded inside the engine. */
export function floorQuerySql(qualifiedTables: readonly string[], featuresPerView: number): string {
  return (
    qualifiedTables
      .map((table) => `SELECT ${JOIN_KEY}, event_ts, ${featureList(featuresPerView)} FROM ${table}`)
      .join(' UNION ALL ') + ' FORMAT Null'
  );
}

export { resolvedAll } from '../../packages/offline/test/support/views.js';

/**
 * Entity rows as a caller holds them, loaded before any timing: join keys as bigint, timestamps as
 * ms. `sql` returns the key column `keyColumn` and `ts` (ms since the epoch), in row order.
 */
export async function loadEntityRows(
  executor: ClickHouseExecutor,
  sql: string,
  keyColumn: string,
): Promise<{ keys: bigint[]; ts: number[] }> {
  const table = tableFromIPC(await executor.queryBytes(sql, undefined, { format: 'ArrowStream' }));
  const keys: bigint[] = [];
  const ts: number[] = [];
  for (const value of table.getChild(keyColumn) ?? []) keys.push(BigInt(value as bigint));
  for (const value of table.getChild('ts') ?? []) ts.push(Number(value as bigint));
  return { keys, ts };
}
