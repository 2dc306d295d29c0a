/**
 * The bounds every request field of the offline hop is held to before anything reaches the store:
 * times within what ClickHouse's DateTime64 stores (it clamps outside, silently), deduplication
 * tokens short plain tokens (they become an engine setting), batches and key-hash parts bounded.
 * Each check throws INVALID_ARGUMENT naming the request, the field and the rule.
 */
import { TesseraError } from '@tessera/core';

/** DateTime64(3)'s range, ms since the epoch: 1900-01-01 to 2299-12-31 (UTC). */
export const MIN_TS_MILLIS = -2_208_988_800_000;
export const MAX_TS_MILLIS = 10_413_791_999_999;

/** Most rows in one streamed batch (LatestRows, EventRows): a batch only chunks the stream. */
export const MAX_BATCH_ROWS = 20_000;

/** Most key-hash parts a materialization or rebuild may split a view into. */
export const MAX_PARTS = 65_536;

/** What a deduplication token may look like (Tessera's are sha256 hex, `idem-<hex>` or a UUID). */
const DEDUP_TOKEN = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** `token`, when it is 1 to 128 characters of `[A-Za-z0-9_.:@-]`. */
export function checkDedupToken(token: string, label: string): string {
  if (!DEDUP_TOKEN.test(token)) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: dedup_token must be 1 to 128 characters of [A-Za-z0-9_.:@-]`);
  }
  return token;
}

/** `millis` as a number, when it is an integer ms time DateTime64(3) holds. */
export function checkTimeMillis(millis: number | bigint, field: string, label: string): number {
  const value = Number(millis);
  if (!Number.isInteger(value) || value < MIN_TS_MILLIS || value > MAX_TS_MILLIS) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: ${field} ${String(millis).slice(0, 32)} must be an integer number of ms between ${MIN_TS_MILLIS} and ${MAX_TS_MILLIS} (DateTime64: 1900-01-01 to 2299-12-31)`,
    );
  }
  return value;
}

/** `batchRows` when it is 1 to {@link MAX_BATCH_ROWS}. */
export function checkBatchRows(batchRows: number, label: string): number {
  if (!Number.isInteger(batchRows) || batchRows < 1 || batchRows > MAX_BATCH_ROWS) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: batch_rows ${batchRows} must be between 1 and ${MAX_BATCH_ROWS}`,
    );
  }
  return batchRows;
}

/** The key-hash part a request reads (none when `count` is 0): at most {@link MAX_PARTS}, index below count. */
export function checkPart(index: number, count: number, label: string): { index: number; count: number } | undefined {
  if (count > MAX_PARTS) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: part_count ${count} exceeds ${MAX_PARTS}`);
  }
  if (count === 0) {
    if (index !== 0) throw new TesseraError('INVALID_ARGUMENT', `${label}: part_index ${index} without a part_count`);
    return undefined;
  }
  if (index >= count) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: part_index ${index} must be below part_count ${count}`);
  }
  return { index, count };
}

/**
 * A time range of ms doubles held to what the store can hold: NaN or an empty range refused; bounds
 * past either end of DateTime64 (±Infinity included: "unbounded") clamped to it, where no row can lie
 * (a range wholly outside it comes back empty: start = end; the caller answers no rows).
 */
export function clampedRange(
  startMillis: number,
  endMillis: number,
  label: string,
): { startMillis: number; endMillis: number } {
  if (Number.isNaN(startMillis) || Number.isNaN(endMillis) || !(startMillis < endMillis)) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: start_millis ${startMillis} must be before end_millis ${endMillis} (ms since the epoch)`,
    );
  }
  const clamp = (ms: number): number => Math.min(Math.max(ms, MIN_TS_MILLIS), MAX_TS_MILLIS + 1);
  return { startMillis: clamp(startMillis), endMillis: clamp(endMillis) };
}
