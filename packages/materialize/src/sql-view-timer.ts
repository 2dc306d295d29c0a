/**
 * The embedded scheduler of SQL views (docs/design/window-aggregations.md §5.1): a timer in the
 * server process that refreshes every SQL view's due intervals, its progress kept in
 * MaterializeState (LMDB embedded) under `sql-refresh:<view>@<n>` = the end of the last interval
 * refreshed. A view seen for the first time starts with its latest due interval (older history is
 * a backfill's job); a server that was down catches up interval by interval, at most
 * `maxCatchUpIntervals` per pass. Background work: a pass never throws, it reports each failure
 * and retries the interval on the next pass.
 */
import {
  sqlViewRefreshInterval,
  type MaterializeState,
  type OfflineStore,
  type OnlineStore,
  type RegisteredView,
} from '@tessera/core';
import { refreshSqlViewInterval } from './sql-view.js';

/** Default time between two passes. */
export const DEFAULT_SQL_VIEW_TIMER_INTERVAL_MILLIS = 10_000;

/** Default most intervals one view catches up in one pass. */
export const DEFAULT_MAX_CATCH_UP_INTERVALS = 24;

/** What one pass did for one view. */
export interface SqlViewRefreshResult {
  readonly view: string;
  /** Intervals refreshed (offline and online) in this pass. */
  readonly refreshed: readonly { readonly startMillis: number; readonly endMillis: number }[];
  readonly rowsWritten: number;
  /** Set when an interval failed (it is retried on the next pass). */
  readonly error?: unknown;
}

/** Options of {@link SqlViewTimer}. */
export interface SqlViewTimerOptions {
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly state: MaterializeState;
  /** The latest version of every live SQL view (read from the registry on each pass). */
  readonly views: () => readonly RegisteredView[];
  readonly intervalMillis?: number;
  readonly maxCatchUpIntervals?: number;
  /** The clock (tests give their own). */
  readonly nowMillis?: () => number;
  /** Receives every pass's results with a failure (log + metric). */
  readonly report?: (result: SqlViewRefreshResult) => void;
}

/** The state key of a view version's scheduled refreshes. */
export function refreshStateKey(view: RegisteredView): string {
  return `sql-refresh:${view.name}@${view.version}`;
}

/**
 * The views in an order where a view comes after the SQL views it reads (by name), so in one pass
 * an interval is computed from inputs already refreshed for it. The registry refuses cycles.
 */
export function readersLast(views: readonly RegisteredView[]): RegisteredView[] {
  const byName = new Map(views.map((v) => [v.name, v]));
  const ordered: RegisteredView[] = [];
  const placed = new Set<string>();
  const place = (view: RegisteredView, depth: number): void => {
    if (placed.has(view.name) || depth > views.length) return;
    for (const read of view.sql?.reads ?? []) {
      const input = byName.get(read.slice(0, read.lastIndexOf('@')));
      if (input !== undefined && input !== view) place(input, depth + 1);
    }
    if (!placed.has(view.name)) {
      placed.add(view.name);
      ordered.push(view);
    }
  };
  for (const view of views) place(view, 0);
  return ordered;
}

/** Refreshes SQL views on a timer; `pass()` runs one pass now (what the timer calls). */
export class SqlViewTimer {
  readonly #options: SqlViewTimerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #closed = false;

  constructor(options: SqlViewTimerOptions) {
    this.#options = options;
  }

  /** Starts passes every `intervalMillis` (the first after one interval). */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const every = this.#options.intervalMillis ?? DEFAULT_SQL_VIEW_TIMER_INTERVAL_MILLIS;
    const schedule = (): void => {
      this.#timer = setTimeout(() => {
        this.#running = this.pass().finally(() => {
          this.#running = undefined;
          if (!this.#closed) schedule();
        });
      }, every);
      this.#timer.unref();
    };
    schedule();
  }

  /** One pass over every SQL view: refreshes its due intervals. Never throws. */
  async pass(): Promise<SqlViewRefreshResult[]> {
    const results: SqlViewRefreshResult[] = [];
    for (const view of readersLast(this.#options.views())) {
      if (this.#closed) break;
      const result = await this.#refreshView(view);
      if (result.error !== undefined) this.#options.report?.(result);
      results.push(result);
    }
    return results;
  }

  async #refreshView(view: RegisteredView): Promise<SqlViewRefreshResult> {
    const { state } = this.#options;
    const refreshed: { startMillis: number; endMillis: number }[] = [];
    let rowsWritten = 0;
    const def = view.sql;
    if (view.kind !== 'sql' || def === undefined) return { view: view.name, refreshed, rowsWritten };
    try {
      const now = (this.#options.nowMillis ?? Date.now)();
      const due = sqlViewRefreshInterval(def, now);
      const key = refreshStateKey(view);
      const last = await state.get(key);
      const maxIntervals = this.#options.maxCatchUpIntervals ?? DEFAULT_MAX_CATCH_UP_INTERVALS;
      // From the last refreshed end (or the due interval for a new view), whole periods, bounded.
      let start = last === undefined ? due.startMillis : Math.max(last, due.endMillis - maxIntervals * def.everyMillis);
      start = due.startMillis - Math.ceil((due.startMillis - start) / def.everyMillis) * def.everyMillis;
      for (let i = 0; i < maxIntervals && start < due.endMillis && !this.#closed; i++) {
        const interval = { startMillis: start, endMillis: start + def.everyMillis };
        const counts = await refreshSqlViewInterval({
          offline: this.#options.offline,
          online: this.#options.online,
          view,
          interval,
          tick: String(interval.endMillis),
        });
        await state.advance(key, interval.endMillis);
        refreshed.push(interval);
        rowsWritten += counts.rowsWritten;
        start = interval.endMillis;
      }
      return { view: `${view.name}@${view.version}`, refreshed, rowsWritten };
    } catch (error) {
      return { view: `${view.name}@${view.version}`, refreshed, rowsWritten, error };
    }
  }

  /** Stops the timer and waits for a pass in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running;
  }
}
