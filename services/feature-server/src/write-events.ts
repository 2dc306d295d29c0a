/**
 * The event-view part of a Write (docs/design/window-aggregations.md §1.2, §1.3): which targets an
 * event view accepts, and each row's fingerprint and eligibility, decided once per Write.
 */
import { TesseraError, batchExclusions, batchFingerprints, isEventView } from '@tessera/core';
import type { OfflineBatch, RegisteredView, ValidatedBatch } from '@tessera/core';
import type { ServerTelemetry } from './server-telemetry.js';

/**
 * Target online alone on an event view with aggregations: FAILED_PRECONDITION (its events would be
 * missing offline, where aggregations are computed from too).
 */
export function assertEventTargets(view: RegisteredView, online: boolean, offline: boolean, label: string): void {
  if (online && !offline && isEventView(view) && (view.aggregations?.length ?? 0) > 0) {
    throw new TesseraError(
      'FAILED_PRECONDITION',
      `Write to ${label}: aggregations are computed from the offline events too; write online and offline, or offline only for history (target WRITE_TARGET_OFFLINE)`,
    );
  }
}

/**
 * The event-view part of a Write (design §1.2, §1.3): the rows' fingerprints (when they go
 * offline) and, for a live write, each row's eligibility at `acceptedAtMillis`. A history write
 * (offline only) is always eligible. Excluded rows are counted in the metrics here, once per Write.
 */
export function eventRows(
  telemetry: ServerTelemetry | undefined,
  view: RegisteredView,
  batch: ValidatedBatch,
  online: boolean,
  offline: boolean,
  acceptedAtMillis: number,
): { offline: Pick<OfflineBatch, 'fingerprints' | 'exclusions'>; late: number; future: number } {
  const fingerprints = offline ? batchFingerprints(view, batch, batch.entityKeys) : undefined;
  if (!online) return { offline: fingerprints === undefined ? {} : { fingerprints }, late: 0, future: 0 };
  const { codes, counts } = batchExclusions(view, batch.eventTsMillis, acceptedAtMillis);
  telemetry?.metrics?.recordEventsExcluded(view.name, counts.late, counts.future);
  return {
    offline: fingerprints === undefined ? {} : { fingerprints, exclusions: codes },
    late: counts.late,
    future: counts.future,
  };
}
