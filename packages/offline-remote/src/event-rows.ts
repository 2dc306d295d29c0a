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
import { checkBatchRows, checkPart } from './bounds.js';

/** The range of an EventRows request, every field checked; INVALID_ARGUMENT naming the field otherwise. */
export function eventRowsRangeOf(request: EventRowsRequest, view: RegisteredView, signal: AbortSignal): EventRowsRange {
  const label = `EventRows of ${view.name}@${view.version}`;
  if (view.kind !== 'events') throw new TesseraError('INVALID_ARGUMENT', `${label}: not an event view`);
  if (request.beforeGeneration < 1) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: before_generation must be 1 or more`);
  }
  const batchRows = checkBatchRows(request.batchRows, label);
  const part = checkPart(request.partIndex, request.partCount, label);
  return {
    beforeGeneration: request.beforeGeneration,
    batchRows,
    ...(part === undefined ? {} : { part }),
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
