/**
 * Adapters of core's MaterializeState port: the last materialized point of each view version, kept
 * beside the online rows (the embedded environment, or one hash on the Redis Cluster).
 */
import type { EmbeddedEnvironment, EmbeddedTable, MaterializeState } from '@tessera/core';
import type { RedisClientSettings } from '@tessera/redis';
import { SmallRedisStore } from './small-redis-store.js';

/** Embedded: the points in the online store's LMDB environment. */
export class LmdbMaterializeState implements MaterializeState {
  readonly #store: EmbeddedEnvironment;
  readonly #db: EmbeddedTable<number, string>;

  constructor(store: EmbeddedEnvironment) {
    this.#store = store;
    this.#db = store.openDatabase<number, string>('materialized');
  }

  get(view: string): Promise<number | undefined> {
    return Promise.resolve(this.#db.get(view));
  }

  advance(view: string, endMillis: number): Promise<void> {
    this.#store.transaction(() => {
      const current = this.#db.get(view);
      if (current === undefined || current < endMillis) this.#db.putSync(view, endMillis);
    });
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const ADVANCE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1`;

/** Cluster mode: one hash on the Redis Cluster, shared by every server. */
export class RedisMaterializeState implements MaterializeState {
  readonly #redis: SmallRedisStore;
  readonly #key: string;

  constructor(
    nodes: readonly { readonly host: string; readonly port: number }[],
    keyPrefix: string,
    redis?: RedisClientSettings,
  ) {
    this.#redis = new SmallRedisStore(nodes, 'materialization points', redis);
    this.#key = `${keyPrefix}{tessera:materialized}`;
  }

  async get(view: string): Promise<number | undefined> {
    const value = await this.#redis.run((c) => c.hget(this.#key, view));
    return value === null ? undefined : Number(value);
  }

  async advance(view: string, endMillis: number): Promise<void> {
    await this.#redis.run((c) => c.eval(ADVANCE_SCRIPT, 1, this.#key, view, String(endMillis)));
  }

  close(): Promise<void> {
    return this.#redis.close();
  }
}
