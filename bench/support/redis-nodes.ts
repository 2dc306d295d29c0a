// The Redis Cluster a benchmark runs against: the nodes given with `--redis-cluster host:port,…`,
// or a 6-node cluster of its own, started here and stopped by `cleanup`.
import { type RedisNodeAddress, startRedisCluster } from '@tessera/testkit';
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
