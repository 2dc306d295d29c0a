import { TesseraClientError } from './service-error.js';

/** UNAVAILABLE: the only status a call is retried on (the server was not reached or shut down). */
const UNAVAILABLE = 14;

/** How a call is retried on UNAVAILABLE (and on nothing else). */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 turns retries off. Default 4. */
  readonly maxAttempts: number;
  /** Wait before the first retry, ms; doubled each retry, with full jitter. Default 50. */
  readonly initialBackoffMillis: number;
  /** Longest wait between attempts, ms. Default 2,000. */
  readonly maxBackoffMillis: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 4, initialBackoffMillis: 50, maxBackoffMillis: 2_000 };

/** Hard ceiling on attempts, whatever the options say: a retry loop is always bounded. */
const MAX_ATTEMPTS_CEILING = 10;

/**
 * Runs `attempt` until it succeeds, fails with anything but UNAVAILABLE, runs out of attempts, or the
 * next wait would pass `deadlineMillis` (the one deadline of the whole call, retries included). Only
 * calls that are safe to repeat come here: reads, and writes that carry an idempotency key.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  deadlineMillis: number,
  attempt: (deadline: Date) => Promise<T>,
  random: () => number = Math.random,
): Promise<T> {
  const maxAttempts = Math.max(1, Math.min(MAX_ATTEMPTS_CEILING, Math.floor(policy.maxAttempts)));
  for (let n = 1; ; n++) {
    try {
      return await attempt(new Date(deadlineMillis));
    } catch (error) {
      if (!(error instanceof TesseraClientError) || error.grpcCode !== UNAVAILABLE) throw error;
      const ceiling = Math.min(policy.maxBackoffMillis, policy.initialBackoffMillis * 2 ** (n - 1));
      const wait = Math.floor(random() * ceiling);
      if (n >= maxAttempts || Date.now() + wait >= deadlineMillis) throw error.withAttempts(n);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
