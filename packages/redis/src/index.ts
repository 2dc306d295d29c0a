export type { RedisClientSettings, RedisConnectionOptions, RedisNode, RedisTlsOptions } from './connection-options.js';
export { REDIS_DEFAULTS } from './connection-options.js';
export { createRedisClient, createRedisCluster, createRedisStandalone } from './create-redis-client.js';
export { waitForReplicas } from './wait-for-replicas.js';
