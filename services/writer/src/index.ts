/**
 * The writer process (cluster mode): consumes the write-behind queue on the Redis Cluster and
 * inserts each job into ClickHouse — a server over HTTP, or chDB in a data directory of its own
 * (one process owns a chDB directory, so a server and a writer never share one). It reads the same
 * registry log as the servers. Run as many as the insert rate needs; SIGTERM lets the jobs in hand
 * finish first, so a rolling update loses nothing.
 */
import { join } from 'node:path';
import {
  ClickHouseRegistryLog,
  TableEnsuringOfflineStore,
  openEmbeddedOfflineStore,
  openHttpOfflineStore,
  type ClickHouseOfflineStore,
} from '@tessera/offline';
import { Registry, clusterRegistryLog } from '@tessera/registry';
import {
  OfflineStoreSink,
  startMaterializeWorker,
  startOfflineWriter,
  type OfflineWriter,
  type RedisNode,
} from '@tessera/writebehind';
import { RedisClusterOnlineStore } from '@tessera/online';
import { materializePartRunner } from '@tessera/materialize';
import type { RedisClientSettings } from '@tessera/redis';

export interface WriterProcessOptions {
  readonly nodes: readonly RedisNode[];
  /** Authentication and TLS of every Redis connection (see @tessera/redis). Default: none. */
  readonly redis?: RedisClientSettings | undefined;
  /** The deployment's Redis key prefix (as the servers'). Default ''. */
  readonly keyPrefix?: string;
  /** ClickHouse HTTP endpoint; without it, chDB under `<dataDir>/offline`. */
  readonly clickhouseUrl?: string;
  /** Folder of the embedded chDB offline store when there is no `clickhouseUrl`. */
  readonly dataDir?: string;
  /** Jobs inserted at once. Default 4. */
  readonly concurrency?: number;
  /** How long a job stays with a writer that stopped renewing its lock before another takes it, ms. Default 30,000. */
  readonly lockMillis?: number;
  /**
   * On close, how long the jobs in hand (inserts, Materialize parts) may take to finish before they
   * are cut off (another writer takes them over; their tokens keep them single), ms. Default 10,000.
   */
  readonly shutdownGraceMillis?: number;
}

const DEFAULT_SHUTDOWN_GRACE_MILLIS = 10_000;

export interface WriterProcess extends OfflineWriter {
  readonly registry: Registry;
  readonly offline: ClickHouseOfflineStore;
}

export async function startWriterProcess(options: WriterProcessOptions): Promise<WriterProcess> {
  const keyPrefix = options.keyPrefix ?? '';
  const grace = options.shutdownGraceMillis ?? DEFAULT_SHUTDOWN_GRACE_MILLIS;
  const offline = options.clickhouseUrl
    ? await openHttpOfflineStore(options.clickhouseUrl)
    : await openEmbeddedOfflineStore(options.dataDir ?? join('.tessera', 'writer'));
  // With a ClickHouse server, the registry log is beside its tables (as the servers read it).
  const registry = await Registry.open(
    await clusterRegistryLog(
      options.nodes,
      keyPrefix,
      options.clickhouseUrl
        ? () => ClickHouseRegistryLog.open({ executor: offline.executor, database: offline.database })
        : undefined,
      options.redis,
    ),
  );
  const sink = new OfflineStoreSink(new TableEnsuringOfflineStore(offline), (name, version) =>
    registry.findViewVersion(name, version),
  );
  const writer = await startOfflineWriter({
    nodes: options.nodes,
    redis: options.redis,
    keyPrefix,
    sink,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.lockMillis === undefined ? {} : { lockMillis: options.lockMillis }),
    closeTimeoutMillis: grace,
  });
  // Materialize parts (cluster mode): latest offline rows of a key-hash part, written online.
  const online = new RedisClusterOnlineStore({ nodes: options.nodes, keyPrefix, redis: options.redis });
  const tables = new TableEnsuringOfflineStore(offline);
  const materializer = await startMaterializeWorker({
    nodes: options.nodes,
    redis: options.redis,
    keyPrefix,
    ...(options.lockMillis === undefined ? {} : { lockMillis: options.lockMillis }),
    closeTimeoutMillis: grace,
    run: materializePartRunner({
      offline: tables,
      online,
      findView: (name, version) => registry.findViewVersion(name, version),
    }),
  });
  return {
    registry,
    offline,
    deadLetters: writer.deadLetters,
    stats: () => writer.stats(),
    close: async () => {
      // Both workers finish their jobs in hand at the same time: the grace period is not spent twice.
      await Promise.all([writer.close(), materializer.close()]);
      await online.close();
      await registry.close();
      await offline.close();
    },
  };
}
