/** Absolute deadline of a call in ms since the epoch, or undefined when the client set none. */
export function callDeadlineMillis(call: { getDeadline(): Date | number }): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}
