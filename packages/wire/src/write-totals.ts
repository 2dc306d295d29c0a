import type { WriteResponse } from '@tessera/proto';

/** The totals of no write: every count 0. */
export function emptyWriteTotals(): WriteResponse {
  return {
    rows: 0n,
    rowsAppliedOnline: 0n,
    rowsStaleOnline: 0n,
    rowsExcludedLate: 0n,
    rowsExcludedFuture: 0n,
    rowsDuplicateEvents: 0n,
  };
}

/** Adds one write's counts to `total` (several batches, or the messages of a WriteStream). */
export function addWriteTotals(total: WriteResponse, response: WriteResponse): void {
  total.rows += response.rows;
  total.rowsAppliedOnline += response.rowsAppliedOnline;
  total.rowsStaleOnline += response.rowsStaleOnline;
  total.rowsExcludedLate += response.rowsExcludedLate;
  total.rowsExcludedFuture += response.rowsExcludedFuture;
  total.rowsDuplicateEvents += response.rowsDuplicateEvents;
}
