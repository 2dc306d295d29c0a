import { join } from 'node:path';
import type { OnlineStore } from '@tessera/core';
import { LmdbOnlineStore, RedisClusterOnlineStore } from '@tessera/online';
import { LmdbRegistryLog, Registry, RedisRegistryLog } from '@tessera/registry';

/** Where a server keeps its data: embedded engines in one folder, or a Redis Cluster. */
export type BackendOptions =
  | {
      readonly kind: 'embedded';
      /** Folder of the LMDB online store and registry. Default `.tessera`. */
      readonly dataDir: string;
    }
  | {
      readonly kind: 'redis-cluster';
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      /** Prepended to every key, so several deployments can share one cluster. */
      readonly keyPrefix?: string;
    };

export interface Backends {
  readonly store: OnlineStore;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** Opens the online store and the registry of a deployment. */
export async function openBackends(options: BackendOptions): Promise<Backends> {
  switch (options.kind) {
    case 'embedded': {
      const store = new LmdbOnlineStore({ path: join(options.dataDir, 'online') });
      return withClose(store, await Registry.open(new LmdbRegistryLog({ directory: options.dataDir })));
    }
    case 'redis-cluster': {
      const keyPrefix = options.keyPrefix ?? '';
      const store = new RedisClusterOnlineStore({ nodes: options.nodes, keyPrefix });
      const log = new RedisRegistryLog({ nodes: options.nodes, keyPrefix: `${keyPrefix}{tessera:registry}:` });
      return withClose(store, await Registry.open(log));
    }
  }
}

function withClose(store: OnlineStore, registry: Registry): Backends {
  return {
    store,
    registry,
    close: async () => {
      await registry.close();
      await store.close();
    },
  };
}
