/**
 * The events a tile rebuild folds (design §3.6), on the offline hop: the request's range checked
 * by the offline server (bounded batches and parts, a generation of 1 or more), and each batch as
 * the columns of LatestRows plus the events' fingerprints.
 */
import {
  FINGERPRINT_BYTES,
  TesseraError,
  type EventRowsRange,
  type OfflineEventRow,
  type RegisteredView,
} from '@tessera/core';
import type { EventRowsBatch, EventRowsRequest } from '@tessera/proto';
import { fromLatestRowsBatch, toLatestRowsBatch } from './rows.js';

/** Most rows in one EventRows batch (the rebuild's own batch size; a batch only chunks the stream). */
export const MAX_EVENT_BATCH_ROWS = 20_000;

/** Most key-hash parts a rebuild may split a view into. */
export const MAX_EVENT_PARTS = 65_536;

/** The range of an EventRows request, every field checked; INVALID_ARGUMENT naming the field otherwise. */
export function eventRowsRangeOf(request: EventRowsRequest, view: RegisteredView, signal: AbortSignal): EventRowsRange {
  const label = `EventRows of ${view.name}@${view.version}`;
  if (view.kind !== 'events') throw new TesseraError('INVALID_ARGUMENT', `${label}: not an event view`);
  if (request.beforeGeneration < 1) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: before_generation must be 1 or more`);
  }
  if (request.batchRows < 1 || request.batchRows > MAX_EVENT_BATCH_ROWS) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: batch_rows ${request.batchRows} must be between 1 and ${MAX_EVENT_BATCH_ROWS}`,
    );
  }
  if (request.partCount > MAX_EVENT_PARTS) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: part_count ${request.partCount} exceeds ${MAX_EVENT_PARTS}`);
  }
  if (request.partCount > 0 && request.partIndex >= request.partCount) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: part_index ${request.partIndex} must be below part_count ${request.partCount}`,
    );
  }
  return {
    beforeGeneration: request.beforeGeneration,
    batchRows: request.batchRows,
    ...(request.partCount === 0 ? {} : { part: { index: request.partIndex, count: request.partCount } }),
    signal,
  };
}

/** Events as columns, their fingerprints concatenated. */
export function toEventRowsBatch(view: RegisteredView, rows: readonly OfflineEventRow[]): EventRowsBatch {
  return {
    ...toLatestRowsBatch(view, rows),
    fingerprints: Buffer.concat(rows.map((r) => r.fp)),
  };
}

/** Events read back from columns. */
export function fromEventRowsBatch(view: RegisteredView, batch: EventRowsBatch): OfflineEventRow[] {
  const rows = fromLatestRowsBatch(view, batch);
  if (batch.fingerprints.length !== rows.length * FINGERPRINT_BYTES) {
    throw new TesseraError(
      'INTERNAL',
      `EventRows of ${view.name}@${view.version}: ${batch.fingerprints.length} fingerprint bytes for ${rows.length} rows`,
    );
  }
  return rows.map((row, i) => ({
    ...row,
    fp: Uint8Array.from(batch.fingerprints.subarray(i * FINGERPRINT_BYTES, (i + 1) * FINGERPRINT_BYTES)),
  }));
}
