/**
 * The one query of a historical request.
 *
 * Shape: the entity table ASOF LEFT JOINs each requested view version in one query (chDB runs one
 * stream per Session, so per-view queries would have to be materialised and re-joined), each view
 * read through a subquery that
 * - is joined on `(event_ts, created_ts)` packed into one Int128 ({@link viewAsofExpression}), the
 *   entity side being `(ts, the largest created_ts)`: the ASOF row is the latest event at or before
 *   `ts` and, among rows with that (keys, event_ts), the latest `created_ts` — what `FINAL` on the
 *   ReplacingMergeTree would keep, without `FINAL`'s sorted merge of every part (measured on the
 *   10M-row bench at 100k entity rows: the three-view query 2.2–2.5 s against 4.2 s with `FINAL`).
 *   Two rows with equal keys, event_ts and created_ts come only from a replayed batch (one batch
 *   never holds a key twice at one event time) and hold the same values;
 * - is pruned to the request's keys (`(keys) IN (SELECT keys FROM entity table)`) and, where that
 *   skips at least one of the view's monthly partitions ({@link timePruning}), to its time range
 *   (`event_ts <= max(ts)`, and `>= min(ts) - ttl` when the view has a TTL) — a bound that skips no
 *   partition only costs a filter on every row (0.3–0.6 s of 3.3 s at 100k rows on the bench);
 * values whose event time is older than `ts - ttl` are nulled in the SELECT (the ASOF row is the
 * latest at or before `ts`; when it is too old, nothing newer within the TTL exists either).
 * `join_use_nulls = 1` makes an unmatched row NULL rather than a type default. Lists cannot be
 * Nullable in ClickHouse: their output is the array plus a 0/1 "no value" column, merged in Node.
 * Output columns are positional (`c0` = row id) and ordered by row id.
 *
 * Measured by hand (chDB 3.4, 2 cores; 3 views × 10 Float64 × 1M rows over 100k entities;
 * whole path incl. upload and Arrow chunks): 100k entity rows 0.68–0.81 s / 0.6 GB peak RSS against
 * 1.3–3.1 s / 1.0 GB for the plain unpruned ASOF LEFT JOIN; 1M entity rows 4.1 s / 1.24 GB (hash)
 * and 5.7 s / 1.32 GB (full_sorting_merge) against 5.3 s / 2.0 GB. `FINAL` (the earlier way to
 * resolve duplicates) measured faster than `LIMIT 1 BY` and far faster than
 * `argMax(tuple(…), created_ts)` (which also must not be used per column: argMax skips NULLs).
 */
import { TesseraError, type ResolvedFeatures, type ValueType } from '@tessera/core';
import type { ClickHouseExecutor } from '../executor.js';
import {
  CREATED_TS_COLUMN,
  IS_NULL_SUFFIX,
  isListType,
  partitionOf,
  plainRowsSource,
  qualifiedName,
  quoteIdentifier,
  tableName,
} from '../ddl.js';
import { EVENT_TS, ROW_ID_COLUMN, queryOptions, type EntityTable, type QueryContext } from './entities.js';
import type { FinalColumn } from './aggregation-finalize.js';
import { aggregationView, finalColumns, type IrOutputColumn } from './aggregation-layout.js';

/** How the join runs: `hash` is fastest; `full_sorting_merge` bounds memory on large requests. */
export type JoinAlgorithm = 'hash' | 'full_sorting_merge';

/** One column of the training set and where it is in the query's result. */
export interface OutputColumn {
  readonly name: string;
  readonly type: ValueType;
  /** Position in the result. */
  readonly index: number;
  /** Position of the 0/1 "no value" column of a list. */
  readonly nullFlagIndex?: number;
}

export interface HistoricalQuery {
  readonly sql: string;
  readonly columns: readonly OutputColumn[];
  /** Columns of the result, row id first. */
  readonly resultWidth: number;
  /** With window aggregations: the training set's columns over `columns` (see HistoricalLayout). */
  readonly finals?: readonly FinalColumn[];
}

/** Output names of the features: `<view>__<feature>`, or `<view>__v<version>__<feature>` when two versions of one view are requested. */
function featureColumnNames(features: ResolvedFeatures): string[][] {
  const versions = new Map<string, Set<number>>();
  for (const rv of features.views) {
    const set = versions.get(rv.view.name) ?? new Set<number>();
    set.add(rv.view.version);
    versions.set(rv.view.name, set);
  }
  return features.views.map((rv) => {
    const several = (versions.get(rv.view.name)?.size ?? 0) > 1;
    const prefix = several ? `${rv.view.name}__v${rv.view.version}` : rv.view.name;
    return [
      ...rv.featureIndexes.map((i) => `${prefix}__${rv.view.features[i]?.name ?? ''}`),
      ...rv.aggregationIndexes.map((i) => `${prefix}__${rv.view.aggregations?.[i]?.name ?? ''}`),
    ];
  });
}

/**
 * The ASOF column of a view's rows: `event_ts` in milliseconds times 2^64 plus `created_ts` in
 * microseconds. Any created_ts fits in ±2^63 µs, and t·2^64 + c orders as (t, c) for every such c, so
 * ordering by it is ordering by (event_ts, created_ts). {@link entityAsofExpression} is its match for
 * an entity row.
 */
function viewAsofExpression(): string {
  return (
    `bitShiftLeft(toInt128(toUnixTimestamp64Milli(${quoteIdentifier(EVENT_TS)})), 64) + ` +
    `toInt128(toUnixTimestamp64Micro(${quoteIdentifier(CREATED_TS_COLUMN)}))`
  );
}

/** An entity row's ASOF value: its ts with a created part above any row's (2^64 − 1), so equal event times match. */
function entityAsofExpression(entityAlias: string): string {
  return `bitShiftLeft(toInt128(toUnixTimestamp64Milli(${entityAlias}.${EVENT_TS})), 64) + toInt128(18446744073709551615)`;
}

/** Which time bounds to put on one requested view's rows. */
export interface TimePruning {
  /** `event_ts <= max(ts)`: some partition of the view is later than the latest entity row. */
  readonly upper: boolean;
  /** `event_ts >= min(ts) - ttl` (views with a TTL): some partition is older than any row can use. */
  readonly lower: boolean;
}

const EVERY_BOUND: TimePruning = { upper: true, lower: true };

/**
 * For each requested view, whether its time bounds skip a whole partition for the entity rows in
 * `entityTable`: one query over the tables' min/max event_ts (answered from part metadata).
 */
export async function timePruning(
  executor: ClickHouseExecutor,
  database: string,
  entityTable: string,
  features: ResolvedFeatures,
  context: QueryContext,
): Promise<TimePruning[]> {
  const ts = quoteIdentifier(EVENT_TS);
  const columns = features.views.flatMap((rv, slot) => {
    const table = qualifiedName(database, tableName(rv.view));
    const ttl = rv.view.ttlSeconds > 0 ? Math.floor(rv.view.ttlSeconds) : 0;
    const upper = `${partitionOf(`(SELECT max(${ts}) FROM ${table})`)} > ${partitionOf(`(SELECT max(${EVENT_TS}) FROM ${entityTable})`)}`;
    const lower =
      ttl > 0
        ? `${partitionOf(`(SELECT min(${ts}) FROM ${table})`)} < ` +
          partitionOf(`(SELECT min(${EVENT_TS}) FROM ${entityTable}) - toIntervalSecond(${ttl})`)
        : '0';
    return [`${upper} AS u${slot}`, `${lower} AS l${slot}`];
  });
  const [row] = await executor.queryJson<Record<string, number | null>>(
    `SELECT ${columns.join(', ')}`,
    undefined,
    queryOptions(context),
  );
  // NULL (no entity rows) or a missing answer keeps the bound: it can only make the read smaller.
  return features.views.map((_, slot) => ({ upper: row?.[`u${slot}`] !== 0, lower: row?.[`l${slot}`] !== 0 }));
}

/** One requested view version in the join: where its features go and how it is joined. */
export interface ViewJoin {
  readonly slot: number;
  /** The view's first join key (its tables' sorting-key prefix), quoted, and that key's entity table column. */
  readonly firstKey: string;
  readonly firstKeyColumn: string;
  /** Output positions of its features (lists: value and flag). */
  readonly positions: readonly number[];
  /**
   * The ASOF LEFT JOIN clause of this view for entity rows `e` read from `source` (a table or a
   * parenthesised SELECT): the view is pruned to `source`'s keys and time range, and to `extra`
   * conditions on its own columns.
   */
  join(source: string, extra?: readonly string[]): string;
  /**
   * A scalar subquery counting the view rows {@link join} would read for entity rows `source` (the
   * same key and time pruning): what one hash join holds in memory, up to the columns.
   */
  rows(source: string, extra?: readonly string[]): string;
}

/** Every output expression (by position, `e` = the entity rows) and every view's join. */
export interface HistoricalLayout {
  /** SQL expression of each output position; position 0 is the row id. */
  readonly expressions: readonly string[];
  readonly columns: readonly OutputColumn[];
  /** Positions computed from the entity rows alone: the row id and the entity columns. */
  readonly entityPositions: readonly number[];
  /** The entity table's columns that the expressions and joins read (MATERIALIZED ones included). */
  readonly entityColumns: readonly string[];
  readonly views: readonly ViewJoin[];
  /**
   * With window aggregations: the training set's columns, each a column of `columns` or an
   * aggregation finalised from its IR columns (aggregation-finalize.ts); absent: `columns` as is.
   */
  readonly finals?: readonly FinalColumn[];
}

export const ENTITY_ALIAS = 'e';

/** `pruning`: per requested view, the time bounds worth putting on its rows ({@link timePruning}). */
export function historicalLayout(
  database: string,
  entities: EntityTable,
  features: ResolvedFeatures,
  pruning: readonly TimePruning[],
): HistoricalLayout {
  const e = ENTITY_ALIAS;
  const expressions: string[] = [`${e}.${ROW_ID_COLUMN}`];
  const columns: IrOutputColumn[] = [];
  const next = (expression: string): number => {
    expressions.push(expression);
    return expressions.length - 1;
  };
  for (const column of entities.columns) {
    const expression = column.hex === true ? `unhex(${e}.${column.column})` : `${e}.${column.column}`;
    const index = next(expression);
    const flag = column.nullFlagColumn === undefined ? undefined : next(`${e}.${column.nullFlagColumn}`);
    columns.push({
      name: column.name,
      type: column.type,
      index,
      ...(flag === undefined ? {} : { nullFlagIndex: flag }),
    });
  }
  const entityPositions = expressions.map((_, i) => i);
  const names = featureColumnNames(features);
  const views: ViewJoin[] = features.views.flatMap((rv, slot): ViewJoin[] => {
    const view = rv.view;
    const alias = `v${slot}`;
    const keys = view.joinKeys.map((key) => {
      const column = entities.keyColumns.get(key.name);
      if (column === undefined) {
        throw new TesseraError('INVALID_ARGUMENT', `entity rows lack the join key "${key.name}" of view ${view.name}`);
      }
      return { name: quoteIdentifier(key.name), column };
    });
    const ttl = view.ttlSeconds > 0 ? Math.floor(view.ttlSeconds) : 0;
    // The matched row's event time is read only to apply a TTL; without one, a match is a non-NULL ASOF value.
    const fresh =
      ttl > 0 ? `${alias}.__ts >= ${e}.${EVENT_TS} - toIntervalSecond(${ttl})` : `isNotNull(${alias}.__asof)`;
    const wanted: string[] = [];
    const positions: number[] = [];
    rv.featureIndexes.forEach((featureIndex, i) => {
      const feature = view.features[featureIndex];
      if (feature === undefined)
        throw new TesseraError('INTERNAL', `view ${view.name} has no feature #${featureIndex}`);
      const name = names[slot]?.[i] ?? feature.name;
      const quoted = quoteIdentifier(feature.name);
      wanted.push(quoted);
      if (isListType(feature.type)) {
        const flagName = quoteIdentifier(`${feature.name}${IS_NULL_SUFFIX}`);
        wanted.push(flagName);
        const index = next(`if(${fresh}, ${alias}.${quoted}, [])`);
        const flag = next(`toUInt8(ifNull(if(${fresh}, ${alias}.${flagName}, 1), 1))`);
        positions.push(index, flag);
        columns.push({ name, type: feature.type, index, nullFlagIndex: flag });
      } else {
        const index = ttl > 0 ? next(`if(${fresh}, ${alias}.${quoted}, NULL)`) : next(`${alias}.${quoted}`);
        positions.push(index);
        columns.push({ name, type: feature.type, index });
      }
    });
    const keyList = keys.map((k) => k.name).join(', ');
    const entityKeyList = keys.map((k) => k.column).join(', ');
    const first = keys[0];
    if (first === undefined) throw new TesseraError('INTERNAL', `view ${view.name} has no join key`);
    const conditionsOf = (source: string, extra: readonly string[]): string[] => {
      const bounds = pruning[slot] ?? EVERY_BOUND;
      const conditions = [...extra, `(${keyList}) IN (SELECT ${entityKeyList} FROM ${source})`];
      if (bounds.upper) conditions.push(`${quoteIdentifier(EVENT_TS)} <= (SELECT max(${EVENT_TS}) FROM ${source})`);
      if (ttl > 0 && bounds.lower) {
        conditions.push(
          `${quoteIdentifier(EVENT_TS)} >= (SELECT min(${EVENT_TS}) FROM ${source}) - toIntervalSecond(${ttl})`,
        );
      }
      return conditions;
    };
    const keysAndTimes = [...keys.map((k) => k.name), quoteIdentifier(EVENT_TS), quoteIdentifier(CREATED_TS_COLUMN)];
    const rows = (source: string, extra: readonly string[] = []): string =>
      `(SELECT count() FROM ${plainRowsSource(database, view, keysAndTimes)} WHERE ${conditionsOf(source, extra).join(' AND ')})`;
    const join = (source: string, extra: readonly string[] = []): string => {
      const conditions = conditionsOf(source, extra);
      const right =
        `(SELECT ${keyList}${ttl > 0 ? `, ${quoteIdentifier(EVENT_TS)} AS __ts` : ''}, ${viewAsofExpression()} AS __asof` +
        `${wanted.length > 0 ? `, ${[...new Set(wanted)].join(', ')}` : ''} ` +
        `FROM ${plainRowsSource(database, view, [...keys.map((k) => k.name), quoteIdentifier(EVENT_TS), quoteIdentifier(CREATED_TS_COLUMN), ...wanted])} ` +
        `WHERE ${conditions.join(' AND ')})`;
      const on = [
        ...keys.map((k) => `${e}.${k.column} = ${alias}.${k.name}`),
        `${entityAsofExpression(e)} >= ${alias}.__asof`,
      ];
      return `ASOF LEFT JOIN ${right} AS ${alias} ON ${on.join(' AND ')}`;
    };
    const plain = { slot, firstKey: first.name, firstKeyColumn: first.column, positions, join, rows };
    if (rv.aggregationIndexes.length === 0) return [plain];
    const aggregated = aggregationView(
      database,
      rv,
      slot,
      keys,
      names[slot] ?? [],
      next,
      columns,
      ENTITY_ALIAS,
      entities,
    );
    const joins = rv.featureIndexes.length === 0 ? [] : [plain];
    return [...joins, { ...plain, positions: aggregated.positions, join: aggregated.join }];
  });
  const seen = new Set<string>();
  for (const column of columns) {
    if (column.final !== undefined && column.final.part > 0) continue;
    const name = column.final?.name ?? column.name;
    if (seen.has(name)) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `the training set would have two columns named "${name}": rename the entity column`,
      );
    }
    seen.add(name);
  }
  const entityColumns = [
    ...new Set([
      ROW_ID_COLUMN,
      EVENT_TS,
      ...entities.keyColumns.values(),
      ...entities.columns.flatMap((c) => (c.nullFlagColumn === undefined ? [c.column] : [c.column, c.nullFlagColumn])),
    ]),
  ];
  const aggregated = features.views.some((rv) => rv.aggregationIndexes.length > 0);
  const finals = aggregated ? finalColumns(columns) : undefined;
  return { expressions, columns, entityPositions, entityColumns, views, ...(finals ? { finals } : {}) };
}

/** Settings of every query whose result leaves ClickHouse as Arrow. */
export const ARROW_OUTPUT_SETTINGS = [
  "output_format_arrow_compression_method = 'none'",
  'output_format_arrow_string_as_string = 0',
  'output_format_arrow_low_cardinality_as_dictionary = 0',
] as const;

/** The whole training set as one query over the entity table. */
export function buildHistoricalQuery(
  database: string,
  entityTable: string,
  entities: EntityTable,
  features: ResolvedFeatures,
  joinAlgorithm: JoinAlgorithm,
  pruning: readonly TimePruning[],
): HistoricalQuery {
  const layout = historicalLayout(database, entities, features, pruning);
  const select = layout.expressions.map((expression, i) => `${expression} AS c${i}`);
  const joins = layout.views.map((view) => view.join(entityTable));
  const settings = [
    'join_use_nulls = 1',
    `join_algorithm = '${joinAlgorithm}'`,
    // A merge join reads each view in sorting-key order, one stream per
    // partition merged into one. By default every stream is buffered ahead of that merge: measured
    // on the 10M-row bench at 1M entity rows (full_sorting_merge), that buffering cost ~0.35 GB
    // per view and bought no speed (peak RSS 2.09 → 1.64 GB, same time); 16k-row blocks took it to
    // 1.54 GB, again at the same time, and made no difference at 100k.
    'read_in_order_use_buffering = 0',
    'max_block_size = 16384',
    ...ARROW_OUTPUT_SETTINGS,
  ];
  const sql =
    `SELECT ${select.join(', ')} FROM ${entityTable} AS ${ENTITY_ALIAS} ${joins.join(' ')} ` +
    `ORDER BY c0 SETTINGS ${settings.join(', ')}`;
  return {
    sql,
    columns: layout.columns,
    resultWidth: select.length,
    ...(layout.finals ? { finals: layout.finals } : {}),
  };
}
