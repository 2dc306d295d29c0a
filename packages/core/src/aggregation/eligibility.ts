/**
 * Eligibility of a live write's event (design §1.3), decided once per Write batch with one
 * acceptance time, before any store is touched. The decision is recorded (main table or the
 * `__excluded` side table), so no other clock ever re-decides it. Defaults and limits of L and F:
 * `definitions/aggregation-rules.ts`.
 */

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
