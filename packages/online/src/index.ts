export { RedisClusterOnlineStore } from './redis-cluster-online-store.js';
export type { RedisClusterOnlineStoreOptions } from './redis-cluster-online-store.js';
export { LmdbOnlineStore } from './lmdb-online-store.js';
export type { LmdbOnlineStoreOptions } from './lmdb-online-store.js';
// The small records kept beside the online rows: adapters of core's idempotency and materialize-state ports.
export {
  DEFAULT_IDEMPOTENCY_WINDOW_MILLIS,
  LmdbIdempotencyStore,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  PENDING_MILLIS,
  RedisIdempotencyStore,
  idempotencyToken,
} from './idempotency.js';
export { LmdbMaterializeState, RedisMaterializeState } from './materialize-state.js';
export { RedisServerHeartbeats } from './server-heartbeats.js';
