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
  startSqlRefreshWorker,
  startOfflineWriter,
  countedFailureReport,
  logWriteBehindFailure,
  type OfflineWriter,
  type RedisNode,
} from '@tessera/writebehind';
import { RedisClusterOnlineStore } from '@tessera/online';
import { materializePartRunner, sqlRefreshTickRunner } from '@tessera/materialize';
import type { RedisClientSettings } from '@tessera/redis';
import { RemoteOfflineStore, type RemoteOfflineStoreOptions } from '@tessera/offline-remote';
import { TesseraError, type Logger, type OfflineStore } from '@tessera/core';
import { TesseraMetrics, createLogger, startMetricsServer, type MetricsEndpointOptions } from '@tessera/telemetry';

export interface WriterProcessOptions {
  readonly nodes: readonly RedisNode[];
  /** Authentication and TLS of every Redis connection (see @tessera/redis). Default: none. */
  readonly redis?: RedisClientSettings | undefined;
  /** The deployment's Redis key prefix (as the servers'). Default ''. */
  readonly keyPrefix?: string;
  /** ClickHouse HTTP endpoint; without it (and `offlineServer`), chDB under `<dataDir>/offline`. */
  readonly clickhouseUrl?: string;
  /** A `tessera offline-server` that owns the deployment's chDB store (not with `clickhouseUrl`). */
  readonly offlineServer?: RemoteOfflineStoreOptions;
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
  /** Where failed inserts, failed Materialize parts and connection errors are logged. Default: pino JSON on stdout at `info`. */
  readonly logger?: Logger;
  /** A Prometheus `/metrics` endpoint (host default 127.0.0.1, port 0 picks a free one). Off by default. */
  readonly metrics?: MetricsEndpointOptions;
}

const DEFAULT_SHUTDOWN_GRACE_MILLIS = 10_000;

export interface WriterProcess extends OfflineWriter {
  readonly registry: Registry;
  /** The store the writer inserts into: ClickHouse, its own chDB, or an offline server. */
  readonly offline: OfflineStore;
  /** The ClickHouse store behind `offline`, when the writer has one of its own (not with an offline server). */
  readonly clickhouse: ClickHouseOfflineStore | undefined;
  /** Port of the `/metrics` endpoint, when the writer has one. */
  readonly metricsPort: number | undefined;
}

export async function startWriterProcess(options: WriterProcessOptions): Promise<WriterProcess> {
  const keyPrefix = options.keyPrefix ?? '';
  const grace = options.shutdownGraceMillis ?? DEFAULT_SHUTDOWN_GRACE_MILLIS;
  const logger = options.logger ?? createLogger({ level: 'info', bindings: { service: 'tessera-writer' } });
  const metrics = options.metrics === undefined ? undefined : new TesseraMetrics({ logger });
  if (options.clickhouseUrl !== undefined && options.offlineServer !== undefined) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      'give the writer one offline store: a ClickHouse server (clickhouseUrl) or an offline server (offlineServer), not both',
    );
  }
  const offline: OfflineStore =
    options.offlineServer !== undefined
      ? new RemoteOfflineStore(options.offlineServer)
      : options.clickhouseUrl
        ? await openHttpOfflineStore(options.clickhouseUrl)
        : await openEmbeddedOfflineStore(options.dataDir ?? join('.tessera', 'writer'));
  // With a ClickHouse server, the registry log is beside its tables (as the servers read it).
  const http = options.clickhouseUrl === undefined ? undefined : (offline as ClickHouseOfflineStore);
  const registry = await Registry.open(
    await clusterRegistryLog(
      options.nodes,
      keyPrefix,
      http ? () => ClickHouseRegistryLog.open({ executor: http.executor, database: http.database }) : undefined,
      options.redis,
    ),
    { logger: logger.child({ component: 'registry' }) },
  );
  const sink = new OfflineStoreSink(
    new TableEnsuringOfflineStore(offline),
    (name, version) => registry.findViewVersion(name, version),
    metrics === undefined
      ? {}
      : { onInserted: (view, version, rows, seconds) => metrics.recordInsert(view, version, rows, seconds) },
  );
  const writer = await startOfflineWriter({
    nodes: options.nodes,
    redis: options.redis,
    keyPrefix,
    sink,
    logger,
    ...(metrics === undefined
      ? {}
      : {
          reportFailure: countedFailureReport(logWriteBehindFailure(logger.child({ component: 'writer' })), (dead) =>
            metrics.recordInsertFailure(dead),
          ),
        }),
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
    logger,
    run: materializePartRunner({
      offline: tables,
      online,
      findView: (name, version) => registry.findViewVersion(name, version),
    }),
  });
  // SQL view ticks (design §5.1): each job computes its interval offline and copies it online.
  const sqlRefresher = await startSqlRefreshWorker({
    nodes: options.nodes,
    redis: options.redis,
    keyPrefix,
    closeTimeoutMillis: grace,
    logger,
    run: sqlRefreshTickRunner({
      offline: tables,
      online,
      findView: (name, version) => registry.findViewVersion(name, version),
    }),
  });
  const close = async (): Promise<void> => {
    // The workers finish their jobs in hand at the same time: the grace period is not spent twice.
    await Promise.all([writer.close(), materializer.close(), sqlRefresher.close()]);
    await online.close();
    await registry.close();
    await offline.close();
    await metricsServer?.close();
  };
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  if (metrics !== undefined && options.metrics !== undefined) {
    metrics.watchQueue('bullmq', () => writer.stats());
    metrics.watchRegistry(() => registry.state().sequence);
    try {
      metricsServer = await startMetricsServer(metrics, options.metrics, logger);
    } catch (error) {
      await close();
      throw new TesseraError(
        'FAILED_PRECONDITION',
        `the metrics endpoint cannot listen on ${options.metrics.host ?? '127.0.0.1'}:${options.metrics.port}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return {
    registry,
    offline,
    clickhouse: options.offlineServer === undefined ? (offline as ClickHouseOfflineStore) : undefined,
    metricsPort: metricsServer?.port,
    deadLetters: writer.deadLetters,
    stats: () => writer.stats(),
    close,
  };
}
