/**
 * Window arithmetic of design §1.4: which events a windowed aggregation reads at query time t.
 * Every function here is the one formula both sides use (ClickHouse SQL spells the same text on
 * Int64); all times are integer milliseconds since the Unix epoch, UTC. The declaration rules (allowed
 * hops, default hop, limits) are the registry's: `definitions/aggregation-rules.ts`.
 */

/** A minute, an hour and a day in milliseconds. */
export const MINUTE_MILLIS = 60_000;
export const HOUR_MILLIS = 3_600_000;
export const DAY_MILLIS = 86_400_000;

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
