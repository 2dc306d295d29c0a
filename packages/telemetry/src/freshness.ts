/** Which end of the pipeline an event time was seen at. */
export type FreshnessSource = 'written' | 'served';

/** The newest event times of one view version, ms since the epoch; -Infinity until seen. */
export class ViewFreshness {
  newestWrittenMillis = Number.NEGATIVE_INFINITY;
  newestServedMillis = Number.NEGATIVE_INFINITY;

  /** Notes a written event time (cheap: one comparison on the hot path). */
  written(eventMillis: number): void {
    if (eventMillis > this.newestWrittenMillis) this.newestWrittenMillis = eventMillis;
  }

  /** Notes a served event time. */
  served(eventMillis: number): void {
    if (eventMillis > this.newestServedMillis) this.newestServedMillis = eventMillis;
  }
}

/**
 * The newest event times per view version. Recording keeps a maximum; the age (now − newest) is
 * computed at scrape time, so a view nobody writes shows an age that keeps growing.
 */
export class FreshnessTable {
  readonly #views = new Map<string, { view: string; version: number; freshness: ViewFreshness }>();
  readonly #nowMillis: () => number;

  constructor(nowMillis: () => number) {
    this.#nowMillis = nowMillis;
  }

  /** The record of one view version; callers keep it (per registered view) rather than look it up per call. */
  view(view: string, version: number): ViewFreshness {
    const key = `${view}@${version}`;
    let entry = this.#views.get(key);
    if (entry === undefined) {
      entry = { view, version, freshness: new ViewFreshness() };
      this.#views.set(key, entry);
    }
    return entry.freshness;
  }

  /** Calls `visit` with the age in seconds of every newest event seen. */
  forEachAge(visit: (view: string, version: number, source: FreshnessSource, ageSeconds: number) => void): void {
    const now = this.#nowMillis();
    for (const { view, version, freshness } of this.#views.values()) {
      if (Number.isFinite(freshness.newestWrittenMillis))
        visit(view, version, 'written', Math.max(0, now - freshness.newestWrittenMillis) / 1000);
      if (Number.isFinite(freshness.newestServedMillis))
        visit(view, version, 'served', Math.max(0, now - freshness.newestServedMillis) / 1000);
    }
  }
}
