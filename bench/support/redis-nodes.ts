// The Redis Cluster a benchmark runs against: the nodes given with `--redis-cluster host:port,…`,
// or a 6-node cluster of its own, started here and stopped by `cleanup`.
import { Cluster } from 'ioredis';
import { type RedisNodeAddress, startRedisCluster } from '@tessera/testkit';
import { pipelinedUnlink } from './raw-hmget.js';
import type { Cleanup } from './cleanup.js';

export async function redisNodes(option: string | undefined, cleanup: Cleanup): Promise<RedisNodeAddress[]> {
  if (option !== undefined) {
    return option.split(',').map((item) => {
      const [host, port] = item.split(':');
      return { host: host ?? '127.0.0.1', port: Number(port) };
    });
  }
  const redis = await startRedisCluster();
  cleanup.add(() => redis.stop());
  return [...redis.nodes];
}

/** `host:port,…`, as `tessera serve --redis-cluster` takes them. */
export function nodeList(nodes: readonly RedisNodeAddress[]): string {
  return nodes.map((n) => `${n.host}:${n.port}`).join(',');
}

/** A cluster client of the bench's own (setup, cleanup, engine floors), once it is ready. */
export async function connectCluster(nodes: readonly RedisNodeAddress[]): Promise<Cluster> {
  const cluster = new Cluster([...nodes], { redisOptions: { commandTimeout: 5_000 } });
  if (cluster.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve);
      cluster.once('error', reject);
    });
  }
  return cluster;
}

/** Every key matching `pattern` (a run's prefix: rows, registry, keys, jobs), scanned on each master and unlinked. */
export async function unlinkMatching(cluster: Cluster, pattern: string): Promise<void> {
  const keys: string[] = [];
  for (const node of cluster.nodes('master')) {
    for await (const batch of node.scanStream({ match: pattern, count: 1_000 })) {
      keys.push(...(batch as string[]));
    }
  }
  await pipelinedUnlink(cluster, keys);
}
