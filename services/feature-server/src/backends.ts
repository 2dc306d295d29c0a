import { join } from 'node:path';
import type { OfflineStore, OnlineStore } from '@tessera/core';
import { ClickHouseRegistryLog, openEmbeddedOfflineStore, openHttpOfflineStore } from '@tessera/offline';
import { TableEnsuringOfflineStore } from './offline-tables.js';
import { LmdbOnlineStore, RedisClusterOnlineStore } from '@tessera/online';
import { LmdbRegistryLog, Registry, RedisRegistryLog } from '@tessera/registry';

/** Where a server keeps its data: embedded engines in one folder, or a Redis Cluster. */
export type BackendOptions =
  | {
      readonly kind: 'embedded';
      /** Folder of the LMDB online store, the registry and the chDB offline store. */
      readonly dataDir: string;
      /** A ClickHouse server's HTTP endpoint instead of the embedded chDB offline store. */
      readonly clickhouseUrl?: string;
    }
  | {
      readonly kind: 'redis-cluster';
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      /** Prepended to every key, so several deployments can share one cluster. */
      readonly keyPrefix?: string;
      /** ClickHouse HTTP endpoint of the offline store; without it the server has none. */
      readonly clickhouseUrl?: string;
    };

export interface Backends {
  readonly store: OnlineStore;
  /** Absent in cluster mode without a ClickHouse endpoint: offline targets then answer UNAVAILABLE. */
  readonly offline: OfflineStore | undefined;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** Opens the online store and the registry of a deployment. */
export async function openBackends(options: BackendOptions): Promise<Backends> {
  switch (options.kind) {
    case 'embedded': {
      const store = new LmdbOnlineStore({ path: join(options.dataDir, 'online') });
      const offline = options.clickhouseUrl
        ? await openHttpOfflineStore(options.clickhouseUrl)
        : await openEmbeddedOfflineStore(options.dataDir);
      return withClose(store, offline, await Registry.open(new LmdbRegistryLog({ directory: options.dataDir })));
    }
    case 'redis-cluster': {
      const keyPrefix = options.keyPrefix ?? '';
      const store = new RedisClusterOnlineStore({ nodes: options.nodes, keyPrefix });
      const offline = options.clickhouseUrl ? await openHttpOfflineStore(options.clickhouseUrl) : undefined;
      // With ClickHouse the registry log lives beside the offline tables, shared by every server;
      // without it, in the Redis Cluster.
      const log = offline
        ? await ClickHouseRegistryLog.open({ executor: offline.executor, database: offline.database })
        : new RedisRegistryLog({ nodes: options.nodes, keyPrefix: `${keyPrefix}{tessera:registry}:` });
      return withClose(store, offline, await Registry.open(log));
    }
  }
}

function withClose(store: OnlineStore, offline: OfflineStore | undefined, registry: Registry): Backends {
  const tables = offline ? new TableEnsuringOfflineStore(offline) : undefined;
  return {
    store,
    offline: tables,
    registry,
    close: async () => {
      await registry.close();
      await store.close();
      await tables?.close();
    },
  };
}
