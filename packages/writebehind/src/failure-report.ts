/**
 * The one place background insert failures are reported. Write-behind never throws out of its
 * background work (a failed insert is retried or becomes a dead letter); what an operator needs to
 * see is each failure, once, at the default log level — not only under `TESSERA_DEBUG`.
 */

/** One failed insert attempt of write-behind rows (an outbox claim or a BullMQ job). */
export interface WriteBehindFailure {
  readonly view: string;
  readonly version: number;
  /** The claim token or job id: the dead letter's id if it becomes one. */
  readonly id: string;
  readonly rowCount: number;
  /** This attempt, from 1. */
  readonly attempt: number;
  /** Attempts allowed before the rows become a dead letter. */
  readonly attempts: number;
  readonly error: string;
  /** Delay before the next attempt, ms; undefined when the rows became a dead letter. */
  readonly retryInMillis: number | undefined;
}

/** Receives every failure; the default writes one line to stderr ({@link warnWriteBehindFailure}). */
export type ReportWriteBehindFailure = (failure: WriteBehindFailure) => void;

/** Longest error text a log line carries (the dead letter keeps the whole message). */
const MAX_ERROR_CHARS = 300;

/** The log line of a failure: view, attempt, and the next retry or the dead letter. */
export function formatWriteBehindFailure(failure: WriteBehindFailure): string {
  const error =
    failure.error.length > MAX_ERROR_CHARS
      ? `${failure.error.slice(0, MAX_ERROR_CHARS)}… (${failure.error.length} chars)`
      : failure.error;
  const outcome =
    failure.retryInMillis === undefined
      ? `now dead letter ${failure.id} (tessera dlq show ${failure.id})`
      : `next retry in ${Math.round(failure.retryInMillis)} ms`;
  return (
    `tessera: write-behind insert into ${failure.view}@${failure.version} failed ` +
    `(attempt ${failure.attempt} of ${failure.attempts}, ${failure.rowCount} rows, id ${failure.id}): ${error}; ${outcome}`
  ).replace(/\n/g, ' ');
}

/** The default reporter: one line per failure on stderr. */
export function warnWriteBehindFailure(failure: WriteBehindFailure): void {
  process.stderr.write(`${formatWriteBehindFailure(failure)}\n`);
}

/** Exponential backoff shared by both drains: `first × 2^(attempt−1)`, at most `maxMillis`. */
export function backoffMillis(attempt: number, firstMillis: number, maxMillis = Infinity): number {
  return Math.min(maxMillis, firstMillis * 2 ** Math.max(0, attempt - 1));
}
