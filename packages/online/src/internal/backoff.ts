const INITIAL_BACKOFF_MILLIS = 25;
const MAX_BACKOFF_MILLIS = 500;

/** Delay before retry number `attempt` (0-based): exponential with full jitter, so clients spread out. */
export function backoffMillis(attempt: number): number {
  const ceiling = Math.min(MAX_BACKOFF_MILLIS, INITIAL_BACKOFF_MILLIS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
