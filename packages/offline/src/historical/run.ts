/**
 * GetHistorical on ClickHouse: point-in-time correct training sets.
 *
 * For each entity row (join keys, ts) and each requested view version V: V's rows with the same
 * keys and `event_ts <= ts` (and, when V has a TTL, `event_ts >= ts - ttl`); among them the
 * latest event_ts, and among rows with that (keys, event_ts) the latest created_ts; no such row →
 * every feature of V is NULL. Output: the input rows in input order with their columns (join
 * keys, event_ts, passthrough), then `<view>__<feature>` per requested feature, in chunks.
 *
 * Steps: entity rows into a per-request table with a row id (entities.ts), one query ASOF
 * LEFT JOINing each pruned, deduplicated view (query.ts), streamed as ArrowStream and cut into
 * chunks in Node (arrow.ts). The per-request table is dropped however the stream ends.
 */
import { TesseraError, type HistoricalChunk, type HistoricalRequest, type JoinKeySpec } from '@tessera/core';
import type { ClickHouseExecutor } from '../executor.js';
import { qualifiedName } from '../ddl.js';
import { decodeChunks } from './arrow.js';
import { materializeEntitySql, uploadInlineRows, type EntityTable } from './entities.js';
import { buildHistoricalQuery, type JoinAlgorithm } from './query.js';
import { randomSuffix } from './sql-text.js';

export type { JoinAlgorithm } from './query.js';

/**
 * Entity rows up to which the hash ASOF join is used; above, `full_sorting_merge`, which sorts and
 * merges instead of building every pruned view in memory. On the 10M-row bench (bench/README.md)
 * 100k entity rows already touch ~3M feature rows: hash needed 1.2 GB against 0.96 GB and was no
 * faster, and at 1M 5.7 GB against 2.2 GB. The better rule estimates the pruned view rows.
 */
export const HASH_JOIN_MAX_ENTITY_ROWS = 50_000;

export interface HistoricalOptions {
  /** `auto` (default): hash up to {@link HASH_JOIN_MAX_ENTITY_ROWS} entity rows, else full_sorting_merge. */
  readonly joinAlgorithm?: 'auto' | JoinAlgorithm;
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
  if (request.features.views.length === 0) {
    throw new TesseraError('INVALID_ARGUMENT', 'no features requested');
  }
  const requiredKeys = requiredKeysOf(request);
  const signal = signalOf(request);
  const tableId = `tmp_historical_${randomSuffix()}`;
  const table = qualifiedName(database, tableId);
  let created = false;
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
    } else {
      entities = await materializeEntitySql(executor, table, request.entities.sql, requiredKeys, signal);
    }
    const algorithm =
      options.joinAlgorithm === undefined || options.joinAlgorithm === 'auto'
        ? entities.rowCount <= HASH_JOIN_MAX_ENTITY_ROWS
          ? 'hash'
          : 'full_sorting_merge'
        : options.joinAlgorithm;
    const query = buildHistoricalQuery(database, table, entities, request.features, algorithm);
    const source = executor.queryStream(query.sql, undefined, { format: 'ArrowStream', signal });
    for await (const chunk of decodeChunks(
      source,
      query.columns,
      entities.rowCount,
      request.chunkRows,
      request.format,
    )) {
      if (signal.aborted) throw aborted(signal, request);
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
    if (created) await executor.command(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  }
}
