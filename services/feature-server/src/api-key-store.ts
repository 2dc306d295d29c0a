import { join } from 'node:path';
import type { ApiKeyStore } from '@tessera/core';
import { LmdbApiKeyStore, RedisApiKeyStore } from '@tessera/registry';
import type { BackendOptions } from './backends.js';

/** The API keys of a deployment: in its data directory (embedded) or its Redis Cluster. */
export function openApiKeyStore(backend: BackendOptions): ApiKeyStore {
  return backend.kind === 'embedded'
    ? new LmdbApiKeyStore({ directory: join(backend.dataDir, 'keys') })
    : new RedisApiKeyStore({ nodes: backend.nodes, keyPrefix: backend.keyPrefix ?? '' });
}
