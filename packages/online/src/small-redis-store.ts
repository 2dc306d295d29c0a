import type { Cluster } from 'ioredis';
import { createRedisCluster, type RedisClientSettings } from '@tessera/redis';
import { TesseraError } from '@tessera/core';

/**
 * A Redis Cluster client for the server's small records (idempotency keys, materialization points):
 * fails fast while the cluster is unreachable, and turns every failure into UNAVAILABLE naming what
 * could not be reached.
 */
export class SmallRedisStore {
  readonly cluster: Cluster;
  readonly #what: string;

  constructor(
    nodes: readonly { readonly host: string; readonly port: number }[],
    what: string,
    redis?: RedisClientSettings,
  ) {
    // Failures surface on the commands (the factory's default error listener drops the events).
    this.cluster = createRedisCluster({
      ...redis,
      nodes,
      enableOfflineQueue: false,
      connectTimeoutMillis: 1_000,
      commandTimeoutMillis: 2_000,
      maxRetriesPerRequest: 1,
    });
    this.#what = what;
  }

  /** Runs `work` against the cluster; a failure becomes UNAVAILABLE with `consequence` appended. */
  async run<T>(work: (cluster: Cluster) => Promise<T>, consequence = ''): Promise<T> {
    try {
      return await work(this.cluster);
    } catch (error) {
      throw new TesseraError(
        'UNAVAILABLE',
        `${this.#what} on the Redis Cluster unreachable (${(error as Error).message})${consequence}`,
        { cause: error },
      );
    }
  }

  async close(): Promise<void> {
    await this.cluster.quit().catch(() => this.cluster.disconnect());
  }
}
