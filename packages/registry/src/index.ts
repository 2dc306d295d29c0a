export { Registry } from './registry.js';
export type { RegistryOptions, ApplyOptions, ApplyResult, RegistryObject, RegistryListing } from './registry.js';
export { LmdbRegistryLog } from './lmdb-registry-log.js';
export type { LmdbRegistryLogOptions } from './lmdb-registry-log.js';
export { RedisRegistryLog, DEFAULT_REGISTRY_KEY_PREFIX } from './redis-registry-log.js';
export type { RedisRegistryLogOptions } from './redis-registry-log.js';
