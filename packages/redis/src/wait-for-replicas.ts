import type { Cluster } from 'ioredis';
import { TesseraError } from '@tessera/core';

/**
 * `WAIT replicas timeout` on every master that owns one of `slots`, through the connection that
 * carried the writes (WAIT covers only its own connection's writes). Fails with UNAVAILABLE when
 * a master cannot confirm: the caller must not treat the batch as durable. WAIT blocks its
 * connection, so the caller keeps writes on a client of their own, apart from reads.
 */
export async function waitForReplicas(
  cluster: Cluster,
  slots: Uint16Array,
  replicas: number,
  deadlineMillis: number,
  maxWaitMillis: number,
  what: string,
): Promise<void> {
  const masters = new Set<string>();
  for (const slot of slots) {
    const master = cluster.slots[slot]?.[0];
    if (master !== undefined) masters.add(master);
  }
  const nodes = new Map(cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
  await Promise.all(
    [...masters].map(async (master) => {
      // WAIT 0 blocks forever: at least 1 ms. At most maxWaitMillis, so the client's own
      // command timeout does not cut the WAIT short.
      const timeoutMillis = Math.max(1, Math.min(maxWaitMillis, deadlineMillis - Date.now()));
      let acknowledged: number;
      try {
        const node = nodes.get(master);
        if (node === undefined) throw new Error('no connection to it');
        acknowledged = await node.wait(replicas, timeoutMillis);
      } catch (error) {
        throw new TesseraError(
          'UNAVAILABLE',
          `${what}: WAIT ${replicas} on master ${master} failed (${describeError(error)}); the rows may be lost on failover, retry the write`,
          { cause: error },
        );
      }
      if (acknowledged < replicas) {
        throw new TesseraError(
          'UNAVAILABLE',
          `${what}: only ${acknowledged} of ${replicas} replicas of master ${master} acknowledged within ${timeoutMillis} ms; ` +
            'the rows are applied on the master but may be lost on failover, retry the write',
        );
      }
    }),
  );
}

/** First line of an error's message, for the UNAVAILABLE text. */
function describeError(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n', 1)[0] ?? error.name) : String(error);
}
