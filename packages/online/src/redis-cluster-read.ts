import type { Cluster } from 'ioredis';
import type { OnlineLookup } from '@tessera/core';
import { runPerNode } from './internal/cluster-batch.js';

/** What a read of {@link RedisClusterOnlineStore} runs with. */
export interface ClusterReadContext {
  readonly reader: Cluster;
  readonly keyPrefix: string;
  readonly connectWaitMillis: number;
}

/**
 * The read path of the Redis Cluster store: one HMGET per entity with its fields, one pipeline
 * per master, all masters in parallel, retried
 * until `deadlineMillis`. Replies stay Buffers; each lookup gets its reply array as is.
 */
export async function readClusterRows(
  context: ClusterReadContext,
  lookups: readonly OnlineLookup[],
  deadlineMillis: number,
): Promise<(Uint8Array | null)[][]> {
  const results = new Array<(Uint8Array | null)[]>(lookups.length);
  const keys: string[] = [];
  const wanted: number[] = [];
  const prefix = context.keyPrefix;
  for (let i = 0; i < lookups.length; i++) {
    const lookup = lookups[i] as OnlineLookup;
    // Entities with fields get their reply array as is; only empty lookups need one here.
    if (lookup.fields.length === 0) {
      results[i] = [];
    } else {
      keys.push(prefix + lookup.key);
      wanted.push(i);
    }
  }
  if (keys.length === 0) return results;
  await runPerNode(context.reader, {
    what: `read of ${lookups.length} entities`,
    command: 'HMGET',
    keys,
    deadlineMillis,
    connectWaitMillis: context.connectWaitMillis,
    add: (pipeline, k) =>
      pipeline.hmgetBuffer(keys[k] as string, ...(lookups[wanted[k] as number] as OnlineLookup).fields),
    onReply: (k, reply) => {
      results[wanted[k] as number] = reply as (Buffer | null)[];
    },
  });
  return results;
}
