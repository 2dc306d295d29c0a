/**
 * Cluster mode's adapter of core's ServerHeartbeats port: one hash `<prefix>{tessera:servers}` on
 * the Redis Cluster, field = server id, value = `<alive until ms> <ack> <ack> …` (acks are rebuild
 * labels without spaces). Readers drop expired fields, so a dead server stops counting one TTL
 * after its last heartbeat.
 */
import type { ServerHeartbeats } from '@tessera/core';
import type { RedisClientSettings } from '@tessera/redis';
import { SmallRedisStore } from './small-redis-store.js';

const DELETE_IF_UNCHANGED = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1`;

/** Heartbeats of the servers of one deployment (its key prefix) on the Redis Cluster. */
export class RedisServerHeartbeats implements ServerHeartbeats {
  readonly #redis: SmallRedisStore;
  readonly #key: string;

  constructor(
    nodes: readonly { readonly host: string; readonly port: number }[],
    keyPrefix: string,
    redis?: RedisClientSettings,
  ) {
    this.#redis = new SmallRedisStore(nodes, 'server heartbeats', redis);
    this.#key = `${keyPrefix}{tessera:servers}`;
  }

  async beat(serverId: string, acks: readonly string[], ttlMillis: number): Promise<void> {
    const value = [String(Date.now() + ttlMillis), ...acks].join(' ');
    await this.#redis.run((c) => c.hset(this.#key, serverId, value));
  }

  async live(): Promise<ReadonlyMap<string, readonly string[]>> {
    const all = await this.#redis.run((c) => c.hgetall(this.#key));
    const now = Date.now();
    const out = new Map<string, readonly string[]>();
    const expired: string[] = [];
    for (const [id, value] of Object.entries(all)) {
      const [until, ...acks] = value.split(' ');
      if (Number(until) > now) out.set(id, acks);
      else expired.push(id);
    }
    // Deleted only if unchanged: a server that beat again since the read stays.
    for (const id of expired) {
      await this.#redis.run((c) => c.eval(DELETE_IF_UNCHANGED, 1, this.#key, id, all[id] as string));
    }
    return out;
  }

  close(): Promise<void> {
    return this.#redis.close();
  }
}
