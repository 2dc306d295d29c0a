import { TesseraError } from '@tessera/core';

/** Absolute deadline of a call in ms since the epoch, or undefined when the client set none. */
export function callDeadlineMillis(call: { getDeadline(): Date | number }): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/** DEADLINE_EXCEEDED when the deadline has passed: checked just before a write commits anything. */
export function checkDeadline(deadlineMillis: number | undefined, label: string): void {
  if (deadlineMillis !== undefined && Date.now() >= deadlineMillis) {
    throw new TesseraError(
      'DEADLINE_EXCEEDED',
      `Write to ${label}: the deadline passed before the write was committed; nothing was written`,
    );
  }
}
