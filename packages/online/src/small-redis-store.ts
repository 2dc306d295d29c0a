import { Cluster } from 'ioredis';
import { TesseraError } from '@tessera/core';

/**
 * A Redis Cluster client for the server's small records (idempotency keys, materialization points):
 * fails fast while the cluster is unreachable, and turns every failure into UNAVAILABLE naming what
 * could not be reached.
 */
export class SmallRedisStore {
  readonly cluster: Cluster;
  readonly #what: string;

  constructor(nodes: readonly { readonly host: string; readonly port: number }[], what: string) {
    this.cluster = new Cluster(
      nodes.map(({ host, port }) => ({ host, port })),
      {
        enableOfflineQueue: false,
        redisOptions: { connectTimeout: 1_000, commandTimeout: 2_000, maxRetriesPerRequest: 1 },
      },
    );
    // Failures surface on the commands; an 'error' event without a listener would end the process.
    this.cluster.on('error', () => undefined);
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
