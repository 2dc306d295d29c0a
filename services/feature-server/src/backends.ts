import { join } from 'node:path';
import type { IdempotencyStore, MaterializeState, OfflineStore, OnlineStore, ServerHeartbeats } from '@tessera/core';
import { inProcessRunner, queuedRunner, type MaterializeRunner } from '@tessera/materialize';
import {
  ClickHouseRegistryLog,
  TableEnsuringOfflineStore,
  openEmbeddedOfflineStore,
  openHttpOfflineStore,
  type ClickHouseOfflineStore,
} from '@tessera/offline';
import { RemoteOfflineStore, type RemoteOfflineStoreOptions } from '@tessera/offline-remote';
import type { RedisClientSettings } from '@tessera/redis';
import { TesseraError, silentLogger, type Logger } from '@tessera/core';
import type { TesseraMetrics } from '@tessera/telemetry';
import {
  LmdbIdempotencyStore,
  LmdbMaterializeState,
  LmdbOnlineStore,
  RedisClusterOnlineStore,
  RedisIdempotencyStore,
  RedisMaterializeState,
  RedisServerHeartbeats,
} from '@tessera/online';
import { LmdbRegistryLog, Registry, clusterRegistryLog } from '@tessera/registry';
import {
  BullmqMaterializer,
  BullmqWriteBehind,
  LmdbWriteBehind,
  OfflineStoreSink,
  countedFailureReport,
  logWriteBehindFailure,
  type FindView,
  type WriteBehind,
} from '@tessera/writebehind';

/** How long closing lets the embedded outbox drain into the offline store, ms (the rest waits, durable, for the next start). */
const DEFAULT_CLOSE_DRAIN_MILLIS = 5_000;

/** Retries of write-behind inserts before the rows become a dead letter. */
export interface WriteBehindRetryOptions {
  /** Insert attempts before a dead letter. Default 12. */
  readonly attempts?: number;
  /** First retry delay, doubled per attempt, ms. Default 500 (12 attempts span about 5 minutes embedded). */
  readonly backoffMillis?: number;
}

/** Where a server keeps its data: embedded engines in one folder, or a Redis Cluster. */
export type BackendOptions =
  | {
      readonly kind: 'embedded';
      /** Folder of the LMDB online store, the registry and the chDB offline store. */
      readonly dataDir: string;
      /** A ClickHouse server's HTTP endpoint instead of the embedded chDB offline store. */
      readonly clickhouseUrl?: string;
      /** A `tessera offline-server` instead of the embedded chDB offline store (not with `clickhouseUrl`). */
      readonly offlineServer?: RemoteOfflineStoreOptions;
      readonly writeBehind?: WriteBehindRetryOptions;
    }
  | {
      readonly kind: 'redis-cluster';
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      /** Prepended to every key, so several deployments can share one cluster. */
      readonly keyPrefix?: string;
      /** Authentication and TLS of every Redis connection (see @tessera/redis). Default: none. */
      readonly redis?: RedisClientSettings | undefined;
      /** ClickHouse HTTP endpoint of the offline store; without it (and `offlineServer`) the server has none. */
      readonly clickhouseUrl?: string;
      /** A `tessera offline-server` as the offline store (not with `clickhouseUrl`). */
      readonly offlineServer?: RemoteOfflineStoreOptions;
      /** Retries of the jobs this server enqueues (the writers run them). */
      readonly writeBehind?: WriteBehindRetryOptions;
    };

export interface Backends {
  readonly store: OnlineStore;
  /** Absent in cluster mode without a ClickHouse endpoint: sync offline writes and training sets then answer UNAVAILABLE. */
  readonly offline: OfflineStore | undefined;
  /** Where offline rows go by default: an LMDB outbox drained in-process (embedded) or BullMQ (cluster). */
  readonly writeBehind: WriteBehind;
  /** Idempotency keys of Writes: beside the online rows (LMDB or Redis Cluster). */
  readonly idempotency: IdempotencyStore;
  /** The last materialized point of each view version (incremental Materialize). */
  readonly materializeState: MaterializeState;
  /** Where Materialize runs: in this process (embedded) or on the writers (cluster mode). */
  readonly materializeRunner: MaterializeRunner;
  /** Cluster mode: every server's heartbeat, for the tile rebuild's barrier (design §3.6 step 2). */
  readonly heartbeats?: ServerHeartbeats;
  readonly registry: Registry;
  /** Answers once the offline store does (`SELECT 1`); absent without an offline store. */
  readonly pingOffline: (() => Promise<void>) | undefined;
  /** Closes everything; the embedded outbox drains for up to `drainMillis` first. Default 5,000. */
  close(drainMillis?: number): Promise<void>;
}

/** Where the background work of the backends logs its failures and counts its inserts. */
export interface BackendTelemetry {
  readonly logger: Logger;
  readonly metrics?: TesseraMetrics | undefined;
}

/** Opens the online store, the offline store, write-behind and the registry of a deployment. */
export async function openBackends(
  options: BackendOptions,
  telemetry: BackendTelemetry = { logger: silentLogger },
): Promise<Backends> {
  const { logger, metrics } = telemetry;
  const registryOptions = { logger: logger.child({ component: 'registry' }) };
  const onInserted =
    metrics === undefined
      ? {}
      : {
          onInserted: (view: string, version: number, rows: number, seconds: number) =>
            metrics.recordInsert(view, version, rows, seconds),
        };
  switch (options.kind) {
    case 'embedded': {
      checkOneOfflineStore(options);
      const store = new LmdbOnlineStore({ path: join(options.dataDir, 'online') });
      const remote = options.offlineServer === undefined ? undefined : new RemoteOfflineStore(options.offlineServer);
      const clickhouse =
        remote === undefined
          ? options.clickhouseUrl
            ? await openHttpOfflineStore(options.clickhouseUrl)
            : await openEmbeddedOfflineStore(options.dataDir)
          : undefined;
      const offline = new TableEnsuringOfflineStore(remote ?? (clickhouse as ClickHouseOfflineStore));
      const registry = await Registry.open(new LmdbRegistryLog({ directory: options.dataDir }), registryOptions);
      const findView: FindView = (name, version) => registry.findViewVersion(name, version);
      const writeBehind = new LmdbWriteBehind({
        store,
        sink: new OfflineStoreSink(offline, findView, onInserted),
        findView,
        logger,
        ...(metrics === undefined
          ? {}
          : {
              reportFailure: countedFailureReport(
                logWriteBehindFailure(logger.child({ component: 'outbox' })),
                (dead) => metrics.recordInsertFailure(dead),
              ),
            }),
        ...options.writeBehind,
      });
      return withClose(
        store,
        offline,
        writeBehind,
        new LmdbIdempotencyStore(store),
        { state: new LmdbMaterializeState(store), runner: inProcessRunner(offline, store) },
        registry,
        remote === undefined ? pingOf(clickhouse as ClickHouseOfflineStore) : () => remote.ping(),
        logger,
      );
    }
    case 'redis-cluster': {
      checkOneOfflineStore(options);
      const keyPrefix = options.keyPrefix ?? '';
      const remote = options.offlineServer === undefined ? undefined : new RemoteOfflineStore(options.offlineServer);
      const store = new RedisClusterOnlineStore({ nodes: options.nodes, keyPrefix, redis: options.redis });
      const http = options.clickhouseUrl ? await openHttpOfflineStore(options.clickhouseUrl) : undefined;
      const log = await clusterRegistryLog(
        options.nodes,
        keyPrefix,
        http && (() => ClickHouseRegistryLog.open({ executor: http.executor, database: http.database })),
        options.redis,
      );
      // Offline rows go to the queue whether or not this server reaches ClickHouse: the writers insert them.
      const writeBehind = new BullmqWriteBehind({
        nodes: options.nodes,
        redis: options.redis,
        keyPrefix,
        online: store,
        logger,
        ...options.writeBehind,
      });
      const materializer = new BullmqMaterializer({ nodes: options.nodes, keyPrefix, redis: options.redis, logger });
      return withClose(
        store,
        http ? new TableEnsuringOfflineStore(http) : remote ? new TableEnsuringOfflineStore(remote) : undefined,
        writeBehind,
        new RedisIdempotencyStore(options.nodes, keyPrefix, undefined, options.redis),
        {
          state: new RedisMaterializeState(options.nodes, keyPrefix, options.redis),
          heartbeats: new RedisServerHeartbeats(options.nodes, keyPrefix, options.redis),
          runner: queuedRunner(materializer),
          close: () => materializer.close(),
        },
        await Registry.open(log, registryOptions),
        http !== undefined ? pingOf(http) : remote !== undefined ? () => remote.ping() : undefined,
        logger,
      );
    }
  }
}

function withClose(
  store: OnlineStore,
  offline: OfflineStore | undefined,
  writeBehind: WriteBehind,
  idempotency: IdempotencyStore,
  materialize: {
    state: MaterializeState;
    runner: MaterializeRunner;
    close?: () => Promise<void>;
    heartbeats?: ServerHeartbeats;
  },
  registry: Registry,
  pingOffline: (() => Promise<void>) | undefined,
  logger: Logger,
): Backends {
  return {
    pingOffline,
    store,
    offline,
    writeBehind,
    idempotency,
    materializeState: materialize.state,
    materializeRunner: materialize.runner,
    ...(materialize.heartbeats === undefined ? {} : { heartbeats: materialize.heartbeats }),
    registry,
    close: async (drainMillis = DEFAULT_CLOSE_DRAIN_MILLIS) => {
      // Write-behind first: it flushes its buffers into the queue (and the embedded drainer into
      // chDB). Then the rest in parallel: none depends on another, and each may wait on a socket.
      const timed = (step: string, close: () => Promise<void>) => timedClose(logger, step, close);
      await timed('write-behind', () => writeBehind.close(drainMillis));
      await Promise.all([
        timed('idempotency', () => idempotency.close()),
        timed('materialize state', () => materialize.state.close()),
        timed('heartbeats', () => materialize.heartbeats?.close() ?? Promise.resolve()),
        timed('materialize queue', () => materialize.close?.() ?? Promise.resolve()),
        timed('registry', () => registry.close()),
      ]);
      // The online store after the stores that share its LMDB environment; the offline store last.
      await timed('online store', () => store.close());
      await timed('offline store', () => offline?.close() ?? Promise.resolve());
    },
  };
}

/** One offline store: a ClickHouse server or an offline server, not both. */
function checkOneOfflineStore(options: BackendOptions): void {
  if (options.clickhouseUrl !== undefined && options.offlineServer !== undefined) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      'give one offline store: a ClickHouse server (clickhouseUrl) or an offline server (offlineServer), not both',
    );
  }
}

/** The offline store's liveness probe: the cheapest query the engine must answer. */
function pingOf(clickhouse: ClickHouseOfflineStore): () => Promise<void> {
  return async () => {
    await clickhouse.executor.queryJson('SELECT 1');
  };
}

/** Runs one step of closing, logged at debug with how long it took. */
async function timedClose(logger: Logger, step: string, close: () => Promise<void>): Promise<void> {
  const started = performance.now();
  try {
    await close();
  } finally {
    const millis = Math.round(performance.now() - started);
    logger.debug({ step, duration_ms: millis }, `shutdown: ${step} closed in ${millis} ms`);
  }
}
