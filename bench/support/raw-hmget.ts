import { createRequire } from 'node:module';
import type { Cluster } from 'ioredis';

// The slot function ioredis itself routes with (its own dependency, not one of ours), so the raw
// baseline groups keys exactly as the client it drives would.
const requireFromIoredis = createRequire(import.meta.resolve('ioredis'));
const calculateSlot = requireFromIoredis('cluster-key-slot') as (key: string) => number;

/**
 * The floor under Tessera's Redis read path: HMGET of one field per key, one pipeline per master,
 * all masters in parallel, Buffers out. Like Tessera, it computes every key's slot and groups by
 * the client's slot table on each call; unlike Tessera, it decodes nothing and retries nothing.
 */
export async function pipelinedHmget(
  cluster: Cluster,
  keys: readonly string[],
  field: string,
): Promise<(Buffer | null)[]> {
  const groups = new Map<readonly string[] | undefined, number[]>();
  const slotTable = cluster.slots;
  for (let k = 0; k < keys.length; k++) {
    // ioredis shares one node list per slot range, so grouping by identity is grouping by master.
    const nodes = slotTable[calculateSlot(keys[k] as string)];
    let group = groups.get(nodes);
    if (group === undefined) {
      group = [];
      groups.set(nodes, group);
    }
    group.push(k);
  }
  const rows = new Array<Buffer | null>(keys.length).fill(null);
  await Promise.all(
    [...groups.values()].map(async (indices) => {
      const pipeline = cluster.pipeline();
      for (const k of indices) pipeline.hmgetBuffer(keys[k] as string, field);
      const replies = await pipeline.exec();
      if (replies === null) throw new Error('pipeline returned no replies');
      indices.forEach((k, j) => {
        const [error, reply] = replies[j] ?? [new Error('missing reply'), null];
        if (error) throw error;
        rows[k] = (reply as (Buffer | null)[])[0] ?? null;
      });
    }),
  );
  return rows;
}

/** Deletes keys with one pipeline per master (UNLINK), for cleaning up after a run. */
export async function pipelinedUnlink(cluster: Cluster, keys: readonly string[]): Promise<void> {
  const groups = new Map<readonly string[] | undefined, string[]>();
  for (const key of keys) {
    const nodes = cluster.slots[calculateSlot(key)];
    const group = groups.get(nodes) ?? [];
    group.push(key);
    groups.set(nodes, group);
  }
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const pipeline = cluster.pipeline();
      for (const key of group) pipeline.unlink(key);
      await pipeline.exec();
    }),
  );
}
