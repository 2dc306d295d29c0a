/**
 * Retention deadlines of the embedded store's entries (design §3.5): the `deadlines` database
 * (entry → deadline) and its index by deadline (`by-deadline`), which `LmdbOnlineStore.sweep` reads.
 */
import type { Database } from 'lmdb';

/** Ends the deadline entry of a dedup set of the layout before increment 13: a sweep that reaches it deletes the set. */
export const DEDUP_DEADLINE_SUFFIX = '\u0000dedup';

/** The two deadline databases. */
export interface DeadlineDatabases {
  readonly deadlines: Database<number, string>;
  readonly byDeadline: Database<true, [number, string]>;
}

/**
 * Deadlines are stored rounded up to this step: a write moves an entry's deadline only when it
 * passes the stored one, so the many writes of a busy entity within one step (each pushing the
 * deadline by milliseconds) read it and change nothing, instead of a remove and two puts each.
 * An entry then lives up to one step longer, as if the sweep (every 60 s by default) ran a step
 * later: the contract asks for "at least until" (newest event + retention), and a dedup set
 * outliving its L + 60 s changes no answer (its view ignores entries below the forget bound,
 * `DedupEntry` in lmdb-dedup-entry.ts, and by then every entry is below it).
 */
export const DEADLINE_STEP_MILLIS = 60_000;

/** `deadline` rounded up to {@link DEADLINE_STEP_MILLIS}. */
export function steppedDeadline(deadline: number): number {
  return Math.ceil(deadline / DEADLINE_STEP_MILLIS) * DEADLINE_STEP_MILLIS;
}

/**
 * {@link extendDeadline}'s rule on a known current deadline (0: none): the deadline after asking for
 * `wanted` (0: persistent).
 */
export function nextDeadline(current: number, wanted: number): number {
  if (wanted === 0) return 0;
  if (current !== 0 && current >= wanted) return current;
  return steppedDeadline(wanted);
}

/** Moves an entry's deadline from `from` to `to` in the deadline databases (0: none). */
export function moveDeadline(dbs: DeadlineDatabases, entry: string, from: number, to: number): void {
  if (from === to) return;
  if (from !== 0) dbs.byDeadline.removeSync([from, entry]);
  if (to === 0) dbs.deadlines.removeSync(entry);
  else {
    dbs.deadlines.putSync(entry, to);
    dbs.byDeadline.putSync([to, entry], true);
  }
}

/** Sets an entry's deadline to `deadline` (rounded up to the step) unless it already lives longer (0 = persistent). */
export function extendDeadline(dbs: DeadlineDatabases, entry: string, deadline: number): void {
  const old = dbs.deadlines.get(entry);
  // Nothing to change: persistent and already without a deadline, or already living longer.
  if (deadline === 0 ? old === undefined : old !== undefined && old >= deadline) return;
  if (old !== undefined) dbs.byDeadline.removeSync([old, entry]);
  if (deadline === 0) {
    dbs.deadlines.removeSync(entry);
    return;
  }
  const stored = steppedDeadline(deadline);
  dbs.deadlines.putSync(entry, stored);
  dbs.byDeadline.putSync([stored, entry], true);
}

/** The keys starting with `base` (which ends with NUL; hex digits follow it). */
export function prefixRange(base: string): { start: string; end: string } {
  return { start: base, end: `${base.slice(0, -1)}\u0001` };
}
