/**
 * Window arithmetic of design §1.4: which events a windowed aggregation reads at query time t.
 * Every function here is the one formula both sides use (ClickHouse SQL spells the same text on
 * Int64); all times are integer milliseconds since the Unix epoch, UTC.
 */

/** A minute, an hour and a day in milliseconds. */
export const MINUTE_MILLIS = 60_000;
export const HOUR_MILLIS = 3_600_000;
export const DAY_MILLIS = 86_400_000;

/** The hops an aggregation may declare (`hop:`), in milliseconds: 1m, 5m, 15m, 1h, 1d. */
export const ALLOWED_HOP_MILLIS: readonly number[] = [
  MINUTE_MILLIS,
  5 * MINUTE_MILLIS,
  15 * MINUTE_MILLIS,
  HOUR_MILLIS,
  DAY_MILLIS,
];

/** Most tiles one window may span (W / h): 7 days at 5 minutes. */
export const MAX_TILES_PER_WINDOW = 2_016;

/** Longest bounded window: 400 days. */
export const MAX_WINDOW_MILLIS = 400 * DAY_MILLIS;

/** `windowMillis` of an unbounded aggregation (as in the proto: 0 = unbounded). */
export const UNBOUNDED_WINDOW = 0;

/**
 * `floor(x, h) = x − (((x mod h) + h) mod h)`: the greatest multiple of h that is ≤ x, also for
 * negative x (JS `%` keeps the dividend's sign, hence the double mod). Exact for |x| < 2^53.
 */
export function floorTo(x: number, h: number): number {
  return x - (((x % h) + h) % h);
}

/** First millisecond of the window at t: `floor(t − W, h)` (inclusive, like t itself). */
export function windowStart(t: number, windowMillis: number, hopMillis: number): number {
  return floorTo(t - windowMillis, hopMillis);
}

/**
 * Index of the tile holding ts: `floor(ts, h) / h`. An i32 for any hop of at least a minute over
 * ±4,000 years; a plain division of a multiple of h, so exact.
 */
export function tileIndex(ts: number, hopMillis: number): number {
  return floorTo(ts, hopMillis) / hopMillis;
}

/** Whether ts is in the window at t: `start(t) ≤ ts ≤ t`, both ends inclusive; unbounded: `ts ≤ t`. */
export function inWindow(ts: number, t: number, windowMillis: number, hopMillis: number): boolean {
  if (ts > t) return false;
  return windowMillis === UNBOUNDED_WINDOW || ts >= windowStart(t, windowMillis, hopMillis);
}

/**
 * The default hop of a window (ARCHITECTURE's rule): W < 12 h → 5 min; W < 12 d → 1 h; else 1 d.
 * Unbounded windows have no tiles; their hop is 0.
 */
export function defaultHopMillis(windowMillis: number): number {
  if (windowMillis === UNBOUNDED_WINDOW) return 0;
  if (windowMillis < 12 * HOUR_MILLIS) return 5 * MINUTE_MILLIS;
  if (windowMillis < 12 * DAY_MILLIS) return HOUR_MILLIS;
  return DAY_MILLIS;
}

/**
 * Why a (window, hop) pair cannot be declared, or undefined when it can (§1.4's limits): the hop is
 * one of {@link ALLOWED_HOP_MILLIS}, W a positive whole multiple of h, W / h ≤ 2,016, W ≤ 400 d.
 * Unbounded windows take hop 0. The message names the rule; the registry adds file, path and line.
 */
export function windowProblem(windowMillis: number, hopMillis: number): string | undefined {
  if (windowMillis === UNBOUNDED_WINDOW) {
    return hopMillis === 0 ? undefined : 'an unbounded window has no hop';
  }
  if (!Number.isSafeInteger(windowMillis) || windowMillis < 0) {
    return `window ${windowMillis} ms is not a positive whole number of milliseconds`;
  }
  if (windowMillis > MAX_WINDOW_MILLIS) return `window ${windowMillis} ms is longer than 400d`;
  if (!ALLOWED_HOP_MILLIS.includes(hopMillis)) {
    return `hop ${hopMillis} ms is not one of 1m, 5m, 15m, 1h, 1d`;
  }
  if (windowMillis % hopMillis !== 0) {
    const below = windowMillis - (windowMillis % hopMillis);
    const above = below + hopMillis;
    return `window ${windowMillis} ms is not a multiple of hop ${hopMillis} ms; use ${below > 0 ? `${below} ms or ` : ''}${above} ms`;
  }
  if (windowMillis / hopMillis > MAX_TILES_PER_WINDOW) {
    return `window ${windowMillis} ms spans ${windowMillis / hopMillis} hops of ${hopMillis} ms, more than ${MAX_TILES_PER_WINDOW}; use a longer hop`;
  }
  return undefined;
}
