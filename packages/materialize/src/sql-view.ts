/**
 * Computing SQL views (docs/design/window-aggregations.md §5.1): an interval's rows are computed
 * offline by the view's SELECT (`OfflineStore.refreshSqlView`, one `INSERT … SELECT` under a
 * deduplication token), then copied online by the same materializeView every view uses — so the
 * values online are the offline rows, not a second computation.
 *
 * - A backfill computes [from, to) day by day (UTC), recording after each day the point reached in
 *   MaterializeState under `sql:<view>@<n>:<from>:<to>`, so a rerun of the same range continues where
 *   an interrupted one stopped (a finished range starts over); then one materialization of the range.
 * - A refresh computes the interval of one tick (schedule.ts) and materializes it.
 */
import { createHash } from 'node:crypto';
import {
  TesseraError,
  backfillDays,
  sqlViewRefreshInterval,
  type MaterializeState,
  type OfflineStore,
  type OnlineStore,
  type RegisteredView,
} from '@tessera/core';
import { materializeView, type MaterializeProgressEvent } from './materialize-view.js';

/** Longest backfill, in days (bounds the work one call starts). */
export const MAX_BACKFILL_DAYS = 3_660;

/** Progress of a backfill: days computed offline, then the online copy's counts. */
export interface SqlViewBackfillProgress extends MaterializeProgressEvent {
  readonly daysDone: number;
  readonly daysTotal: number;
  /** `offline`: computing days; `online`: copying the range online. */
  readonly phase: 'offline' | 'online';
  /** True once the days are computed and the range is copied online. */
  readonly done: boolean;
}

/** The MaterializeState key of a backfill of `view` over [start, end). */
export function backfillStateKey(view: RegisteredView, startMillis: number, endMillis: number): string {
  return `sql:${view.name}@${view.version}:${startMillis}:${endMillis}`;
}

/** The deduplication token of one computed interval: a retry of the same run inserts once. */
export function sqlViewDedupToken(view: RegisteredView, startMillis: number, endMillis: number, run: string): string {
  return createHash('sha256')
    .update(`${view.name}@${view.version}\u0000${startMillis}\u0000${endMillis}\u0000${run}`)
    .digest('hex');
}

function refreshOf(offline: OfflineStore, view: RegisteredView): NonNullable<OfflineStore['refreshSqlView']> {
  if (view.kind !== 'sql' || view.sql === undefined) {
    throw new TesseraError('INVALID_ARGUMENT', `${view.name}@${view.version} is not an SQL view`);
  }
  if (offline.refreshSqlView === undefined) {
    throw new TesseraError('UNAVAILABLE', `SQL view ${view.name}: this server's offline store cannot run SQL views`);
  }
  return offline.refreshSqlView.bind(offline);
}

/**
 * Backfills an SQL view version over [start, end): computes each remaining day offline, then copies
 * the range online. Yields after every day and every online batch.
 */
export async function* backfillSqlView(options: {
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly state: MaterializeState;
  readonly view: RegisteredView;
  readonly startMillis: number;
  readonly endMillis: number;
  readonly signal?: AbortSignal;
  readonly nowMillis?: number;
}): AsyncGenerator<SqlViewBackfillProgress, void, undefined> {
  const { offline, view, state, startMillis, endMillis } = options;
  const refresh = refreshOf(offline, view);
  const days = backfillDays(startMillis, endMillis);
  if (days.length > MAX_BACKFILL_DAYS) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Backfill of ${view.name}: ${days.length} days; at most ${MAX_BACKFILL_DAYS} per call (split the range)`,
    );
  }
  const key = backfillStateKey(view, startMillis, endMillis);
  const reached = (await state.get(key)) ?? startMillis;
  // A finished range starts over; an interrupted one continues after its last whole day.
  const resumeAt = reached > startMillis && reached < endMillis ? reached : startMillis;
  const run = `backfill:${resumeAt}:${options.nowMillis ?? Date.now()}`;
  let daysDone = days.filter((d) => d.endMillis <= resumeAt).length;
  yield { daysDone, daysTotal: days.length, phase: 'offline', rowsRead: 0, rowsWritten: 0, done: false };
  for (const day of days) {
    if (day.endMillis <= resumeAt) continue;
    options.signal?.throwIfAborted();
    await refresh(view, day, {
      dedupToken: sqlViewDedupToken(view, day.startMillis, day.endMillis, run),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    await state.advance(key, day.endMillis);
    daysDone += 1;
    yield { daysDone, daysTotal: days.length, phase: 'offline', rowsRead: 0, rowsWritten: 0, done: false };
  }
  let last: MaterializeProgressEvent = { rowsRead: 0, rowsWritten: 0 };
  for await (const progress of materializeView({
    offline,
    online: options.online,
    view,
    startMillis,
    endMillis,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.nowMillis === undefined ? {} : { nowMillis: options.nowMillis }),
  })) {
    last = progress;
    yield { daysDone, daysTotal: days.length, phase: 'online', ...progress, done: false };
  }
  yield { daysDone, daysTotal: days.length, phase: 'online', ...last, done: true };
}

/**
 * Refreshes one interval of an SQL view version: computes it offline under the token of `tick`
 * (a retried tick inserts once), then copies it online. Returns the online copy's counts.
 */
export async function refreshSqlViewInterval(options: {
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly view: RegisteredView;
  readonly interval: { readonly startMillis: number; readonly endMillis: number };
  /** The tick's identity (its scheduled time): part of the deduplication token. */
  readonly tick: string;
  readonly signal?: AbortSignal;
}): Promise<MaterializeProgressEvent> {
  const { offline, view, interval } = options;
  const refresh = refreshOf(offline, view);
  await refresh(view, interval, {
    dedupToken: sqlViewDedupToken(view, interval.startMillis, interval.endMillis, `tick:${options.tick}`),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  let last: MaterializeProgressEvent = { rowsRead: 0, rowsWritten: 0 };
  for await (const progress of materializeView({
    offline,
    online: options.online,
    view,
    ...interval,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })) {
    last = progress;
  }
  return last;
}

/**
 * The work of one scheduled tick (cluster mode: a BullMQ job on a writer): the interval of `tick`
 * for the named view version, computed offline and copied online. A view version the registry no
 * longer has (deleted, or its scheduler not yet removed) is skipped.
 */
export function sqlRefreshTickRunner(options: {
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly findView: (
    name: string,
    version: number,
  ) => RegisteredView | undefined | Promise<RegisteredView | undefined>;
}): (job: { readonly view: string; readonly version: number }, tickMillis: number) => Promise<void> {
  return async (job, tickMillis) => {
    const view = await options.findView(job.view, job.version);
    if (view?.sql === undefined) return;
    await refreshSqlViewInterval({
      offline: options.offline,
      online: options.online,
      view,
      interval: sqlViewRefreshInterval(view.sql, tickMillis),
      tick: String(tickMillis),
    });
  };
}
