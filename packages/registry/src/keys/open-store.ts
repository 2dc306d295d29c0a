import { join } from 'node:path';
import type { ApiKeyStore } from '@tessera/core';
import type { RedisClientSettings } from '@tessera/redis';
import { LmdbApiKeyStore } from './lmdb-api-key-store.js';
import { RedisApiKeyStore } from './redis-api-key-store.js';

/** Where a deployment lives, as far as its API keys are concerned. */
export type ApiKeyStoreLocation =
  | { readonly kind: 'embedded'; readonly dataDir: string }
  | {
      readonly kind: 'redis-cluster';
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      readonly keyPrefix?: string;
      readonly redis?: RedisClientSettings | undefined;
    };

/** The API keys of a deployment: in its data directory (embedded) or its Redis Cluster. */
export function openApiKeyStore(location: ApiKeyStoreLocation): ApiKeyStore {
  return location.kind === 'embedded'
    ? new LmdbApiKeyStore({ directory: join(location.dataDir, 'keys') })
    : new RedisApiKeyStore({ nodes: location.nodes, keyPrefix: location.keyPrefix ?? '', redis: location.redis });
}
