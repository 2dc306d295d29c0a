/**
 * Idempotency keys on Write: the same key within the retention window returns the first result and
 * writes nothing again. A key is first claimed (pending, short-lived), then completed with the
 * result; a failed write releases it so the client may retry. A key reused for a different request
 * is refused rather than answered with another request's result.
 *
 * Crash safety: a server that dies between writing and recording the result leaves a pending claim
 * that lapses after {@link PENDING_MILLIS}; the retry then writes again — online that is harmless
 * (last-writer-wins, same rows), and offline the write carries a deduplication token derived from the
 * key, so its rows land once.
 */
import { createHash } from 'node:crypto';
import type { Cluster } from 'ioredis';
import type {
  EmbeddedEnvironment,
  EmbeddedTable,
  IdempotencyClaim,
  IdempotencyStore,
  RecordedResult,
} from '@tessera/core';
import type { RedisClientSettings } from '@tessera/redis';
import { SmallRedisStore } from './small-redis-store.js';

/** How long a claim may stay pending before another request may take the key over, ms. */
export const PENDING_MILLIS = 60_000;
/** How long a completed key is remembered, ms (24 hours). */
export const DEFAULT_IDEMPOTENCY_WINDOW_MILLIS = 24 * 3_600_000;
/** Longest idempotency key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;

interface StoredClaim {
  readonly digest: string;
  readonly result?: RecordedResult;
  /** ms since the epoch after which the record is gone. */
  readonly expiresAtMillis: number;
}

function classify(stored: StoredClaim | undefined, digest: string): IdempotencyClaim | undefined {
  if (stored === undefined || stored.expiresAtMillis <= Date.now()) return undefined;
  if (stored.digest !== digest) return { kind: 'mismatch' };
  return stored.result === undefined ? { kind: 'pending' } : { kind: 'done', result: stored.result };
}

/**
 * The deduplication token of the offline rows of the write made under `key` with `digest`: the same
 * write repeated gets the same token; the key reused later for another write gets another.
 */
export function idempotencyToken(key: string, digest: string): string {
  return `idem-${createHash('sha256').update(key).update('\n').update(digest).digest('hex').slice(0, 40)}`;
}

/** Embedded: records in the online store's LMDB environment (expired ones are dropped when met). */
export class LmdbIdempotencyStore implements IdempotencyStore {
  readonly #store: EmbeddedEnvironment;
  readonly #db: EmbeddedTable<StoredClaim, string>;
  readonly #windowMillis: number;

  readonly #sweeper: NodeJS.Timeout;

  constructor(store: EmbeddedEnvironment, windowMillis = DEFAULT_IDEMPOTENCY_WINDOW_MILLIS) {
    this.#store = store;
    this.#db = store.openDatabase<StoredClaim, string>('idempotency');
    this.#windowMillis = windowMillis;
    this.#sweeper = setInterval(() => {
      try {
        this.sweep();
      } catch {
        // The store may be closing; the next sweep catches up.
      }
    }, 3_600_000).unref();
  }

  claim(key: string, digest: string): Promise<IdempotencyClaim> {
    return Promise.resolve(
      this.#store.transaction(() => {
        const held = classify(this.#db.get(key), digest);
        if (held !== undefined) return held;
        this.#db.putSync(key, { digest, expiresAtMillis: Date.now() + PENDING_MILLIS });
        return { kind: 'new' } as const;
      }),
    );
  }

  async complete(key: string, digest: string, result: RecordedResult): Promise<void> {
    await this.#db.put(key, { digest, result, expiresAtMillis: Date.now() + this.#windowMillis });
  }

  release(key: string, digest: string): Promise<void> {
    // Only the pending claim of this request: never a result another request recorded since.
    this.#store.transaction(() => {
      const held = this.#db.get(key);
      if (held !== undefined && held.digest === digest && held.result === undefined) this.#db.removeSync(key);
    });
    return Promise.resolve();
  }

  /** Deletes records past their window (run hourly); returns how many. */
  sweep(nowMillis = Date.now()): number {
    let removed = 0;
    this.#store.transaction(() => {
      for (const { key, value } of this.#db.getRange()) {
        if (value.expiresAtMillis <= nowMillis) {
          this.#db.removeSync(key);
          removed++;
        }
      }
    });
    return removed;
  }

  close(): Promise<void> {
    clearInterval(this.#sweeper);
    return Promise.resolve();
  }
}

const RELEASE_SCRIPT = `
local held = redis.call('GET', KEYS[1])
if held then
  local record = cjson.decode(held)
  if record.digest == ARGV[1] and record.result == nil then redis.call('DEL', KEYS[1]) end
end
return 1`;

/** Cluster mode: one key per idempotency key on the Redis Cluster, expiring with the window. */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: SmallRedisStore;
  readonly #keyPrefix: string;
  readonly #windowMillis: number;

  constructor(
    nodes: readonly { readonly host: string; readonly port: number }[],
    keyPrefix: string,
    windowMillis = DEFAULT_IDEMPOTENCY_WINDOW_MILLIS,
    redis?: RedisClientSettings,
  ) {
    this.#redis = new SmallRedisStore(nodes, 'idempotency key store', redis);
    this.#keyPrefix = keyPrefix;
    this.#windowMillis = windowMillis;
  }

  #key(key: string): string {
    return `${this.#keyPrefix}{tessera:idem:${createHash('sha256').update(key).digest('hex').slice(0, 32)}}`;
  }

  async claim(key: string, digest: string, attempt = 1): Promise<IdempotencyClaim> {
    const redisKey = this.#key(key);
    const pending: StoredClaim = { digest, expiresAtMillis: Date.now() + PENDING_MILLIS };
    const set = await this.#run((c) => c.set(redisKey, JSON.stringify(pending), 'PX', PENDING_MILLIS, 'NX'));
    if (set === 'OK') return { kind: 'new' };
    const stored = await this.#run((c) => c.get(redisKey));
    const held = stored === null ? undefined : classify(JSON.parse(stored) as StoredClaim, digest);
    if (held !== undefined) return held;
    // Gone between SET NX and GET (released or expired): claim again, or report it as busy.
    return attempt < 3 ? this.claim(key, digest, attempt + 1) : { kind: 'pending' };
  }

  async complete(key: string, digest: string, result: RecordedResult): Promise<void> {
    const record: StoredClaim = { digest, result, expiresAtMillis: Date.now() + this.#windowMillis };
    await this.#run((c) => c.set(this.#key(key), JSON.stringify(record), 'PX', this.#windowMillis));
  }

  async release(key: string, digest: string): Promise<void> {
    // Compare and delete: only this request's pending claim, never a result recorded since.
    await this.#run((c) => c.eval(RELEASE_SCRIPT, 1, this.#key(key), digest));
  }

  close(): Promise<void> {
    return this.#redis.close();
  }

  #run<T>(work: (cluster: Cluster) => Promise<T>): Promise<T> {
    return this.#redis.run(work, '; the write was not made, retry it');
  }
}
