export { RedisClusterOnlineStore } from './redis-cluster-online-store.js';
export type { RedisClusterOnlineStoreOptions } from './redis-cluster-online-store.js';
export { LmdbOnlineStore } from './lmdb-online-store.js';
export type { LmdbOnlineStoreOptions } from './lmdb-online-store.js';
