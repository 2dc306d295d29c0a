/**
 * Eligibility of a live write's event (design §1.3), decided once per Write batch with one
 * acceptance time, before any store is touched. The decision is recorded (main table or the
 * `__excluded` side table), so no other clock ever re-decides it.
 */

import { HOUR_MILLIS, MINUTE_MILLIS, DAY_MILLIS } from './window.js';

/** Default `allowed_lateness`: 1 h. */
export const DEFAULT_ALLOWED_LATENESS_MILLIS = HOUR_MILLIS;
/** Largest `allowed_lateness`: 7 d. */
export const MAX_ALLOWED_LATENESS_MILLIS = 7 * DAY_MILLIS;
/** Default `future_tolerance`: 60 s. */
export const DEFAULT_FUTURE_TOLERANCE_MILLIS = MINUTE_MILLIS;
/** Largest `future_tolerance`: 1 h. */
export const MAX_FUTURE_TOLERANCE_MILLIS = HOUR_MILLIS;

/** What happens to one event of a live write: aggregated, or excluded with its reason. */
export type Eligibility = 'eligible' | 'late' | 'future';

/**
 * `ts < acceptedAt − L` → late; `ts > acceptedAt + F` → future; otherwise eligible (both edges
 * eligible). History writes (target offline) are always eligible and do not call this.
 */
export function eventEligibility(
  eventTsMillis: number,
  acceptedAtMillis: number,
  allowedLatenessMillis: number,
  futureToleranceMillis: number,
): Eligibility {
  if (eventTsMillis < acceptedAtMillis - allowedLatenessMillis) return 'late';
  if (eventTsMillis > acceptedAtMillis + futureToleranceMillis) return 'future';
  return 'eligible';
}
