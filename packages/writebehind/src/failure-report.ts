/**
 * The one place background insert failures are reported. Write-behind never throws out of its
 * background work (a failed insert is retried or becomes a dead letter); what an operator needs to
 * see is each failure, once, at the default log level: a warning for a retry, an error for a dead
 * letter, with the view, the attempt and the id as fields.
 */
import type { Logger } from '@tessera/core';

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

/** Receives every failure; the default logs it ({@link logWriteBehindFailure}). */
export type ReportWriteBehindFailure = (failure: WriteBehindFailure) => void;

/** Longest error text a log line carries (the dead letter keeps the whole message). */
const MAX_ERROR_CHARS = 300;

/** The log line of a failure: view, attempt, and the next retry or the dead letter. */
export function formatWriteBehindFailure(failure: WriteBehindFailure): string {
  const error = cut(failure.error);
  const outcome =
    failure.retryInMillis === undefined
      ? `now dead letter ${failure.id} (tessera dlq show ${failure.id})`
      : `next retry in ${Math.round(failure.retryInMillis)} ms`;
  return (
    `tessera: write-behind insert into ${failure.view}@${failure.version} failed ` +
    `(attempt ${failure.attempt} of ${failure.attempts}, ${failure.rowCount} rows, id ${failure.id}): ${error}; ${outcome}`
  ).replace(/\n/g, ' ');
}

/** The default reporter: one log line per failure, at warn (a retry follows) or error (a dead letter). */
export function logWriteBehindFailure(logger: Logger): ReportWriteBehindFailure {
  return (failure) => {
    const fields = {
      view: failure.view,
      version: failure.version,
      id: failure.id,
      rows: failure.rowCount,
      attempt: failure.attempt,
      attempts: failure.attempts,
      error: cut(failure.error),
      ...(failure.retryInMillis === undefined
        ? { dead_letter: true }
        : { retry_in_ms: Math.round(failure.retryInMillis) }),
    };
    if (failure.retryInMillis === undefined) logger.error(fields, formatWriteBehindFailure(failure));
    else logger.warn(fields, formatWriteBehindFailure(failure));
  };
}

function cut(error: string): string {
  return error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS)}… (${error.length} chars)` : error;
}

/** Exponential backoff shared by both drains: `first × 2^(attempt−1)`, at most `maxMillis`. */
export function backoffMillis(attempt: number, firstMillis: number, maxMillis = Infinity): number {
  return Math.min(maxMillis, firstMillis * 2 ** Math.max(0, attempt - 1));
}

/** `report`, after telling `count` whether the failure made a dead letter (for a failures metric). */
export function countedFailureReport(
  report: ReportWriteBehindFailure,
  count: (deadLetter: boolean) => void,
): ReportWriteBehindFailure {
  return (failure) => {
    count(failure.retryInMillis === undefined);
    report(failure);
  };
}
