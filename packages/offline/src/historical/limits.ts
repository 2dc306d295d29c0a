/**
 * Limits of every query a historical request runs (the entity SELECT or spine, the join): the
 * engine enforces them, so a runaway query ends by itself, and on chDB a query given settings runs
 * on a connection of its own that an abort kills (chdb-executor.ts).
 *
 * Verified on chDB 3.4 (ClickHouse 26.7): `max_execution_time=1` ends a `sum(number)` over
 * `numbers_mt(1e12)` after 1.0 s with TIMEOUT_EXCEEDED; `max_rows_to_read` refuses a
 * `numbers(1e12)` scan before it starts; `max_memory_usage=100000000` ends a 100M-row
 * `groupArray` with MEMORY_LIMIT_EXCEEDED.
 */
import { TesseraError } from '@tessera/core';
import type { QuerySettings } from '../executor.js';

/** Engine limits of historical queries. */
export interface HistoricalQueryLimits {
  /** Longest a query may run when the call has no deadline (with one: the time left, at most this). */
  readonly maxExecutionSeconds: number;
  /** Memory one query may use. */
  readonly maxMemoryBytes: number;
  /** Temporary data on disk one query may write (spilled sorts, aggregations, joins). */
  readonly maxTemporaryDiskBytes: number;
  /** In-memory size of a sort or GROUP BY beyond which it spills to disk. */
  readonly maxBytesBeforeExternal: number;
  /** Rows one query may read from tables and generators. */
  readonly maxRowsToRead: number;
}

/** Defaults of {@link HistoricalQueryLimits}. */
export const DEFAULT_HISTORICAL_QUERY_LIMITS: HistoricalQueryLimits = {
  maxExecutionSeconds: 600,
  maxMemoryBytes: 4 * 1024 ** 3,
  maxTemporaryDiskBytes: 20 * 1024 ** 3,
  maxBytesBeforeExternal: 1024 ** 3,
  maxRowsToRead: 20_000_000_000,
};

/**
 * The settings of one query started now: `max_execution_time` is the time left before
 * `deadlineMillis` (fractions of a second kept), at most the ceiling. Throws DEADLINE_EXCEEDED
 * when no time is left.
 */
export function querySettings(limits: HistoricalQueryLimits, deadlineMillis: number | undefined): QuerySettings {
  let seconds = limits.maxExecutionSeconds;
  if (deadlineMillis !== undefined) {
    const leftMillis = deadlineMillis - Date.now();
    if (leftMillis <= 0) {
      throw new TesseraError('DEADLINE_EXCEEDED', 'historical retrieval: the deadline passed before it finished');
    }
    seconds = Math.min(seconds, leftMillis / 1000);
  }
  return {
    max_execution_time: Math.max(0.001, Math.round(seconds * 1000) / 1000),
    timeout_overflow_mode: 'throw',
    max_memory_usage: limits.maxMemoryBytes,
    max_temporary_data_on_disk_size_for_query: limits.maxTemporaryDiskBytes,
    max_bytes_before_external_sort: limits.maxBytesBeforeExternal,
    max_bytes_before_external_group_by: limits.maxBytesBeforeExternal,
    max_rows_to_read: limits.maxRowsToRead,
    read_overflow_mode: 'throw',
  };
}
