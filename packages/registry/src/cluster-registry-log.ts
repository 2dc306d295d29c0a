import type { RedisClientSettings } from '@tessera/redis';
import type { RegistryLog } from '@tessera/core';
import { RedisRegistryLog } from './redis-registry-log.js';

/**
 * The registry log of a cluster-mode deployment, the one place that decides where it lives, so every
 * stateless server and every writer reads the same log: beside the offline tables when the deployment
 * has a ClickHouse server (`openClickHouseLog`, given by the caller that holds the offline store),
 * else in the Redis Cluster under the deployment's key prefix.
 */
export async function clusterRegistryLog(
  nodes: readonly { readonly host: string; readonly port: number }[],
  keyPrefix: string,
  openClickHouseLog: (() => Promise<RegistryLog>) | undefined,
  redis?: RedisClientSettings,
): Promise<RegistryLog> {
  return openClickHouseLog
    ? await openClickHouseLog()
    : new RedisRegistryLog({ nodes, keyPrefix: `${keyPrefix}{tessera:registry}:`, redis });
}
