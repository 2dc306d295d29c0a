/** A per-key request budget: a token bucket per key, refilled continuously. */
export interface RateLimit {
  /** Sustained requests per second per key. */
  readonly requestsPerSecond: number;
  /** Requests a key may make at once after being idle. */
  readonly burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { requestsPerSecond: 2_000, burst: 4_000 };
/** Buckets kept at most; past it the idle ones are dropped (a dropped bucket starts full again). */
const MAX_BUCKETS = 100_000;

interface Bucket {
  tokens: number;
  updatedMillis: number;
}

/** Token buckets by key id. */
export class RateLimiter {
  readonly requestsPerSecond: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(limit: RateLimit = DEFAULT_RATE_LIMIT) {
    this.requestsPerSecond = limit.requestsPerSecond;
    this.#burst = limit.burst;
  }

  /** Takes one request from the key's budget; false when it is spent. */
  take(key: string, nowMillis = performance.now()): boolean {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_BUCKETS) this.#buckets.clear();
      bucket = { tokens: this.#burst, updatedMillis: nowMillis };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(
      this.#burst,
      bucket.tokens + ((nowMillis - bucket.updatedMillis) * this.requestsPerSecond) / 1000,
    );
    bucket.updatedMillis = nowMillis;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
