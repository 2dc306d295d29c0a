/**
 * GetHistorical on ClickHouse: point-in-time correct training sets.
 *
 * For each entity row (join keys, ts) and each requested view version V: V's rows with the same
 * keys and `event_ts <= ts` (and, when V has a TTL, `event_ts >= ts - ttl`); among them the
 * latest event_ts, and among rows with that (keys, event_ts) the latest created_ts; no such row →
 * every feature of V is NULL. Output: the input rows in input order with their columns (join
 * keys, event_ts, passthrough), then `<view>__<feature>` per requested feature, in chunks.
 *
 * Steps: entity rows into a per-request table with a row id (entities.ts); one query ASOF
 * LEFT JOINing each pruned, deduplicated view (query.ts), or for large requests the same join
 * part by part over ranges of join key (key-ranges.ts); the result streamed as ArrowStream and
 * cut into chunks in Node (arrow.ts). Per-request tables are dropped however the stream ends.
 */
import { TesseraError, type HistoricalChunk, type HistoricalRequest, type JoinKeySpec } from '@tessera/core';
import type { ClickHouseExecutor } from '../executor.js';
import { qualifiedName } from '../ddl.js';
import { decodeChunks } from './arrow.js';
import { uploadInlineRows, type EntityTable, type QueryContext } from './entities.js';
import { materializeEntitySql } from './entity-select.js';
import { DEFAULT_HISTORICAL_QUERY_LIMITS, querySettings, type HistoricalQueryLimits } from './limits.js';
import { materializeViewEntities } from './view-entities.js';
import { entitySourceParams, renderEntitySource } from './entity-source.js';
import { buildHistoricalQuery, historicalLayout, timePruning, type JoinAlgorithm, type OutputColumn } from './query.js';
import { DEFAULT_PART_ROWS, DEFAULT_PART_VIEW_ROWS, keyRangeTables, runKeyRanges, tableNamer } from './key-ranges.js';
import { randomSuffix } from './sql-text.js';
import { finalizeColumns, type FinalColumn } from './aggregation-finalize.js';
import { typedColumnsToArrow } from './arrow-columns.js';
import type { ChunkOutput } from './arrow.js';

/** A decoded chunk of IR columns as the training set's chunk in the request's format. */
function finalizeChunk(chunk: ChunkOutput, finals: readonly FinalColumn[], format: 'columns' | 'arrow'): ChunkOutput {
  const columns = finalizeColumns(chunk.columns ?? [], finals, chunk.rowCount);
  if (format === 'arrow') {
    return {
      firstRow: chunk.firstRow,
      rowCount: chunk.rowCount,
      arrowIpc: typedColumnsToArrow(columns, chunk.rowCount),
    };
  }
  return { firstRow: chunk.firstRow, rowCount: chunk.rowCount, columns };
}

export type { JoinAlgorithm } from './query.js';
export { DEFAULT_PART_ROWS } from './key-ranges.js';

/**
 * Entity rows up to which one query with a hash ASOF join answers the request; above, the
 * key-range plan (key-ranges.ts) joins part by part. On the 10M-row bench (bench/README.md) one
 * hash join over 1M entity rows needed 5.4 GB and one merge join 15 s; by key ranges the same
 * request took about the hash join's time (11.7 s against 11.0 s) in 1.4 GB.
 */
export const HASH_JOIN_MAX_ENTITY_ROWS = 50_000;

/**
 * How a request is joined: one query with a `hash` or `full_sorting_merge` ASOF join, or
 * `key_ranges` (parts of {@link HistoricalOptions.partRows} entity rows by join-key range).
 */
export type HistoricalPlan = JoinAlgorithm | 'key_ranges';

export interface HistoricalOptions {
  /** `auto` (default): hash up to {@link HASH_JOIN_MAX_ENTITY_ROWS} entity rows, else key_ranges. */
  readonly plan?: 'auto' | HistoricalPlan;
  /** Entity rows per part of the key-range plan ({@link DEFAULT_PART_ROWS} unless given). */
  readonly partRows?: number;
  /** View rows the joins of one part may read together ({@link DEFAULT_PART_VIEW_ROWS} unless given). */
  readonly partViewRows?: number;
  /** Engine limits of every query of a request ({@link DEFAULT_HISTORICAL_QUERY_LIMITS} unless given). */
  readonly limits?: HistoricalQueryLimits;
}

/** Most rows an entity SELECT or view entity set may produce when the request names no limit. */
export const DEFAULT_MAX_ENTITY_ROWS = 10_000_000;

function planOf(options: HistoricalOptions, rowCount: number): HistoricalPlan {
  // No entity rows: the one query gives the empty training set with its columns, whatever the plan.
  if (options.plan !== undefined && options.plan !== 'auto') return rowCount === 0 ? 'hash' : options.plan;
  return rowCount <= HASH_JOIN_MAX_ENTITY_ROWS ? 'hash' : 'key_ranges';
}

function requiredKeysOf(request: HistoricalRequest): JoinKeySpec[] {
  const keys = new Map<string, JoinKeySpec>();
  for (const rv of request.features.views) {
    for (const key of rv.view.joinKeys) {
      const seen = keys.get(key.name);
      if (seen === undefined) keys.set(key.name, key);
      else if (seen.type !== key.type) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `join key "${key.name}" is ${seen.type} in one requested view and ${key.type} in view ${rv.view.name}`,
        );
      }
    }
  }
  return [...keys.values()];
}

function signalOf(request: HistoricalRequest): AbortSignal {
  const signals: AbortSignal[] = [];
  if (request.signal !== undefined) signals.push(request.signal);
  if (request.deadlineMillis !== undefined) {
    const left = request.deadlineMillis - Date.now();
    if (left <= 0)
      throw new TesseraError('DEADLINE_EXCEEDED', 'historical retrieval: the deadline had passed before it started');
    signals.push(AbortSignal.timeout(left));
  }
  return signals.length === 0 ? new AbortController().signal : AbortSignal.any(signals);
}

function aborted(signal: AbortSignal, request: HistoricalRequest): TesseraError {
  const byDeadline = request.deadlineMillis !== undefined && Date.now() >= request.deadlineMillis;
  const reason: unknown = signal.reason;
  if (reason instanceof TesseraError) return reason;
  // Tessera has no CANCELLED code: a cancelled request is reported as past its deadline.
  return new TesseraError(
    'DEADLINE_EXCEEDED',
    byDeadline || request.signal?.aborted !== true
      ? 'historical retrieval: the deadline passed before it finished'
      : 'historical retrieval was cancelled before it finished',
    { cause: reason },
  );
}

/**
 * Streams the training set of `request` from the offline tables in `database`.
 * Errors: INVALID_ARGUMENT for bad entity rows or a failing/ill-shaped entity SELECT,
 * DEADLINE_EXCEEDED / CANCELLED when the deadline or signal ends it, and the executor's codes.
 */
export async function* runHistorical(
  executor: ClickHouseExecutor,
  database: string,
  request: HistoricalRequest,
  options: HistoricalOptions = {},
): AsyncGenerator<HistoricalChunk, void, undefined> {
  if (!Number.isSafeInteger(request.chunkRows) || request.chunkRows < 1) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `chunkRows must be a positive integer, got ${String(request.chunkRows)}`,
    );
  }
  for (const [name, value] of [
    ['partRows', options.partRows],
    ['partViewRows', options.partViewRows],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new TesseraError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (request.features.views.length === 0) {
    throw new TesseraError('INVALID_ARGUMENT', 'no features requested');
  }
  const requiredKeys = requiredKeysOf(request);
  const signal = signalOf(request);
  const limits = options.limits ?? DEFAULT_HISTORICAL_QUERY_LIMITS;
  const context: QueryContext = { signal, settings: () => querySettings(limits, request.deadlineMillis) };
  const maxEntityRows = request.maxEntityRows ?? DEFAULT_MAX_ENTITY_ROWS;
  const tableId = `tmp_historical_${randomSuffix()}`;
  const table = qualifiedName(database, tableId);
  let created = false;
  let stageTables: string[] = [];
  try {
    let entities: EntityTable;
    created = true; // the table may exist even when its creation call failed half-way
    if (request.entities.kind === 'rows') {
      entities = await uploadInlineRows(
        executor,
        table,
        `${database}.${tableId}`,
        request.entities,
        requiredKeys,
        signal,
      );
    } else if (request.entities.kind === 'view') {
      entities = await materializeViewEntities(
        executor,
        table,
        database,
        request.entities,
        requiredKeys,
        maxEntityRows,
        context,
      );
    } else {
      // A declared source runs through the same path as entity_sql once the engine has written
      // the caller's values into it as literals (entity-source.ts).
      const sql =
        request.entities.kind === 'sql'
          ? request.entities.sql
          : await renderEntitySource(
              executor,
              request.entities.source,
              entitySourceParams(request.entities.source, request.entities.params),
              { database, signal },
            );
      entities = await materializeEntitySql(executor, table, sql, requiredKeys, database, maxEntityRows, context);
    }
    const plan = planOf(options, entities.rowCount);
    const pruning = await timePruning(executor, database, table, request.features, context);
    let source: AsyncIterable<Uint8Array>;
    let columns: readonly OutputColumn[];
    let finals: readonly FinalColumn[] | undefined;
    if (plan === 'key_ranges') {
      const layout = historicalLayout(database, entities, request.features, pruning);
      finals = layout.finals;
      const name = tableNamer(database, tableId);
      stageTables = keyRangeTables(name, layout);
      columns = layout.columns;
      ({ stream: source } = await runKeyRanges(
        executor,
        table,
        entities.rowCount,
        name,
        layout,
        options.partRows ?? DEFAULT_PART_ROWS,
        context,
        options.partViewRows ?? DEFAULT_PART_VIEW_ROWS,
      ));
    } else {
      const query = buildHistoricalQuery(database, table, entities, request.features, plan, pruning);
      columns = query.columns;
      finals = query.finals;
      source = executor.queryStream(query.sql, undefined, {
        format: 'ArrowStream',
        signal,
        settings: context.settings(),
      });
    }
    // Aggregations are finalised on columns, then encoded (as on-demand features are).
    const decodeFormat = finals === undefined ? request.format : 'columns';
    for await (const decoded of decodeChunks(source, columns, entities.rowCount, request.chunkRows, decodeFormat)) {
      if (signal.aborted) throw aborted(signal, request);
      const chunk = finals === undefined ? decoded : finalizeChunk(decoded, finals, request.format);
      yield chunk.arrowIpc === undefined
        ? { firstRow: chunk.firstRow, rowCount: chunk.rowCount, columns: chunk.columns ?? [] }
        : { firstRow: chunk.firstRow, rowCount: chunk.rowCount, arrowIpc: chunk.arrowIpc };
    }
  } catch (error) {
    if (signal.aborted && !(error instanceof TesseraError && error.code === 'DEADLINE_EXCEEDED')) {
      throw aborted(signal, request);
    }
    throw error;
  } finally {
    for (const name of created ? [table, ...stageTables] : []) {
      await executor.command(`DROP TABLE IF EXISTS ${name}`).catch(() => undefined);
    }
  }
}
