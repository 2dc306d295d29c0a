import { randomUUID } from 'node:crypto';
import { Server, ServerCredentials, experimental } from '@grpc/grpc-js';
import { TesseraError } from '@tessera/core';
import type { ApiKeyStore, Definitions, Logger, OnlineStore, WriteBehind } from '@tessera/core';
import { TesseraMetrics, createLogger, startMetricsServer, type MetricsEndpointOptions } from '@tessera/telemetry';
import { ApiKeyAuthenticator } from '@tessera/registry';
import type { ApplyResult, Registry } from '@tessera/registry';
import { OperationsService, RegistryService } from '@tessera/proto';
import { StrictUtf8FeatureStoreService } from './strict-utf8.js';
import { pickDefined } from './request-checks.js';
import { createFeatureStoreCalls, createFeatureStoreService } from './feature-store-service.js';
import { startFeastHttpServer, type FeastHttpOptions, type FeastHttpServer } from './feast/feast-http.js';
import { createRegistryAccess } from './registry-access.js';
import { applyDefinitions, createRegistryService } from './registry-service.js';
import { DEFAULT_MAX_EVENT_TIME_SKEW_MILLIS } from './write.js';
import { createOperationsService } from './operations-service.js';
import { addReflection } from './reflection.js';
import { openBackends } from './backends.js';
import { allViewVersions } from '@tessera/offline';
import type { BackendOptions } from './backends.js';
import { edgeInterceptor } from './edge-interceptor.js';
import { openApiKeyStore } from '@tessera/registry';
import type { RateLimit } from './rate-limit.js';
import { serverTransport, type ServerTlsOptions } from './tls.js';
import { bind, checkExposure, keepPrivate } from './listen.js';
import { createLanes, type LaneOptions } from './lanes.js';
import { serverTelemetry } from './server-telemetry.js';
import { meteredOfflineStore, meteredOnlineStore } from './metered-stores.js';
import { DEFAULT_HEALTH_INTERVAL_MILLIS, ServerHealth } from './health.js';
import { openAuthenticator, warnIfInsecure } from './open-authenticator.js';
import { shutdownServer } from './shutdown.js';
import { startSqlViewScheduler } from './sql-view-scheduler.js';
import { rebuildBarrier } from '@tessera/materialize';
import { TileGenerations, keepTileGenerationsFresh } from './tile-generations.js';

/** Options of a feature server; every limit has a default a production deployment can keep. */
export interface FeatureServerOptions {
  /** Address to bind; embedded mode should stay on loopback. Default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port. Default 6566. */
  readonly port?: number;
  readonly backend: BackendOptions;
  /** Largest request or response message in bytes (RESOURCE_EXHAUSTED beyond it). Default 64 MiB. */
  readonly maxMessageBytes?: number;
  /** Most entities per GetOnlineFeatures and rows per Write message. Default 10,000. */
  readonly maxBatchRows?: number;
  /** Most inline entity rows per GetHistorical (larger sets come from ClickHouse via entity_sql). Default 2,000,000. */
  readonly maxEntityRows?: number;
  /** Most feature refs per request (and views per Materialize); INVALID_ARGUMENT beyond. Default 1,000. */
  readonly maxRefsPerRequest?: number;
  /** How far past the server's clock an event time (or a Materialize end) may be, ms; INVALID_ARGUMENT beyond. Default 86,400,000 (1 day). */
  readonly maxEventTimeSkewMillis?: number;
  /** GetHistorical and Materialize calls running at once, each in its own lane (RESOURCE_EXHAUSTED beyond). Defaults 4 and 2. */
  readonly lanes?: LaneOptions;
  /** Most rows an entity SELECT or view entity set may produce. Default 10,000,000. */
  readonly maxEntitySetRows?: number;
  /** How often the health service checks each component (see health.ts), ms. Default 2,000. */
  readonly healthCheckIntervalMillis?: number;
  /** Age of the oldest pending write-behind entry before `tessera.writebehind.drain` is NOT_SERVING, ms. Default 60,000. */
  readonly maxDrainLagMillis?: number;
  /**
   * On close, how long calls in flight may take to finish before they are cancelled, ms. New calls
   * are refused from the start of the close. Default 10,000.
   */
  readonly shutdownGraceMillis?: number;
  /**
   * API key authentication: every call but health needs a bearer key with the method's scope. Keys live
   * in the deployment's store (data directory or Redis Cluster). Off by default (loopback use only).
   */
  readonly auth?: boolean | ServerAuthOptions;
  /** TLS (and mTLS with a client CA). Off by default (loopback use only). */
  readonly tls?: ServerTlsOptions;
  /**
   * A second listener on 127.0.0.1 at this port (0 picks a free one), plaintext and without
   * authentication, for clients on the same host or pod: a model server beside this one, a sidecar.
   * Every process of the host can use it with every scope, so it stays off on shared hosts. Off by default.
   */
  readonly localPort?: number;
  /**
   * Allow binding a non-loopback address without both auth and TLS. Meant for a trusted network or a
   * proxy that terminates TLS and authenticates; a warning is logged on every start.
   */
  readonly insecure?: boolean;
  /**
   * Where the server logs: warnings (exposure, TLS reloads), every background failure (outbox drain,
   * registry and key refresh, health changes) and each internal error under the id its client got.
   * Default: pino JSON lines on stdout at `info`.
   */
  readonly logger?: Logger;
  /**
   * A Prometheus `/metrics` endpoint on a port of its own (host default 127.0.0.1; port 0 picks a
   * free one, see `metricsPort`). Off by default: without it nothing is counted.
   */
  readonly metrics?: MetricsEndpointOptions;
  /** Calls in flight on one client connection; more wait for a free stream. Default 256. */
  readonly maxConcurrentStreams?: number;
  /**
   * Feast's HTTP feature-server endpoints (`/get-online-features`, `/push`, `/write-to-online-store`,
   * `/health`) on a listener of their own, for Feast SDKs with the `remote` online store. Same keys,
   * TLS files and exposure rule as the gRPC port. Off by default.
   */
  readonly feast?: FeastHttpOptions;
  /** Interval of the server's keepalive pings on a connection, ms. Default 60,000. */
  readonly keepaliveTimeMillis?: number;
  /** A connection that does not answer a keepalive ping within this is closed, ms. Default 20,000. */
  readonly keepaliveTimeoutMillis?: number;
  /** A connection with no call for this long is closed (clients reconnect on their next call), ms. Default 600,000. */
  readonly maxConnectionIdleMillis?: number;
  /** Tests only (never from flags or env): the clock of Write acceptance and online reads. Default `Date.now`. */
  readonly clock?: () => number;
}

/** Tuning of API key authentication. */
export interface ServerAuthOptions {
  /** Per-key request budget; beyond it RESOURCE_EXHAUSTED. Default 2,000/s, burst 4,000. */
  readonly rateLimit?: RateLimit;
  /** How often every server reloads changed keys, ms (a revocation takes effect within it). Default 1,000. */
  readonly refreshIntervalMillis?: number;
}

export const DEFAULT_PORT = 6566;
const DEFAULT_MAX_CONCURRENT_STREAMS = 256;
const DEFAULT_KEEPALIVE_TIME_MILLIS = 60_000;
const DEFAULT_KEEPALIVE_TIMEOUT_MILLIS = 20_000;
const DEFAULT_MAX_CONNECTION_IDLE_MILLIS = 600_000;
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_BATCH_ROWS = 10_000;
const DEFAULT_MAX_ENTITY_ROWS = 2_000_000;
const DEFAULT_SHUTDOWN_GRACE_MILLIS = 10_000;

/** A running feature server. */
export interface FeatureServer {
  readonly port: number;
  readonly address: string;
  readonly registry: Registry;
  readonly store: OnlineStore;
  readonly writeBehind: WriteBehind;
  /** The deployment's API keys (used whether or not this server enforces them). */
  readonly apiKeys: ApiKeyStore;
  /** Whether calls need an API key. */
  readonly authEnabled: boolean;
  /** Whether the port speaks TLS. */
  readonly tlsEnabled: boolean;
  /** `127.0.0.1:port` of the local plaintext listener, when `localPort` was given. */
  readonly localAddress?: string;
  /** Port of the `/metrics` endpoint, when the server has one. */
  readonly metricsPort: number | undefined;
  /** Port of the Feast HTTP endpoints, when the server has them. */
  readonly feastPort: number | undefined;
  /** Applies definitions in-process (as Registry.Apply does, with `author` recorded). */
  apply(definitions: Definitions, options: { readonly author: string; readonly prune?: boolean }): Promise<ApplyResult>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a feature server: FeatureStore, Registry, grpc.health.v1.Health and reflection. */
export async function startFeatureServer(options: FeatureServerOptions): Promise<FeatureServer> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? createLogger({ level: 'info', bindings: { service: 'tessera-server' } });
  const warn = (message: string): void => logger.warn({}, message);
  checkExposure(host, options);
  if (options.feast !== undefined) checkExposure(options.feast.host ?? '127.0.0.1', options);
  // Checked before any store opens: a bad certificate path fails fast and leaves nothing behind.
  const transport = serverTransport(options.tls, warn);
  if (options.backend.kind === 'embedded') keepPrivate(options.backend.dataDir);
  const metrics = options.metrics === undefined ? undefined : new TesseraMetrics({ logger });
  const backends = await openBackends(options.backend, { logger, metrics });
  metrics?.watchQueue(options.backend.kind === 'embedded' ? 'outbox' : 'bullmq', () => backends.writeBehind.stats());
  metrics?.watchRegistry(() => backends.registry.state().sequence);
  const telemetry = serverTelemetry(logger, metrics);
  const online = meteredOnlineStore(backends.store, metrics);
  const apiKeys = openApiKeyStore(options.backend);
  const authOptions = options.auth === true ? {} : options.auth === false ? undefined : options.auth;
  let authenticator: ApiKeyAuthenticator | undefined;
  try {
    authenticator = await openAuthenticator(apiKeys, authOptions, logger);
  } catch (error) {
    transport.stop();
    await apiKeys.close();
    await backends.close();
    throw error;
  }
  warnIfInsecure(warn, {
    insecure: options.insecure,
    host,
    authenticated: authenticator !== undefined,
    tls: options.tls !== undefined,
    openTo: 'read, write and administer this deployment',
  });
  if (authenticator !== undefined && authenticator.activeKeyCount() === 0) {
    warn('tessera: authentication is on but no API key exists yet: create one with `tessera keys create`');
  }
  const server = new Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.max_concurrent_streams': options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
    'grpc.keepalive_time_ms': options.keepaliveTimeMillis ?? DEFAULT_KEEPALIVE_TIME_MILLIS,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMillis ?? DEFAULT_KEEPALIVE_TIMEOUT_MILLIS,
    'grpc.max_connection_idle_ms': options.maxConnectionIdleMillis ?? DEFAULT_MAX_CONNECTION_IDLE_MILLIS,
  });
  const limits = {
    maxBatchRows: options.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS,
    maxEntityRows: options.maxEntityRows ?? DEFAULT_MAX_ENTITY_ROWS,
    ...pickDefined({
      maxRefsPerRequest: options.maxRefsPerRequest,
      maxEventTimeSkewMillis: options.maxEventTimeSkewMillis,
    }),
    ...(options.maxEntitySetRows === undefined ? {} : { maxEntitySetRows: options.maxEntitySetRows }),
    lanes: createLanes(options.lanes),
  };
  await backends.offline?.ensureTables(allViewVersions(backends.registry.state()));
  const registryAccess = createRegistryAccess(backends.registry);
  // The served tile generation of each event view (design §3.6): read before serving, then kept
  // fresh (another server's rebuild switches it), and set at once by this server's own rebuilds.
  const tileGenerations = new TileGenerations();
  const serverId = randomUUID();
  const stopGenerationRefresh = await keepTileGenerationsFresh({
    generations: tileGenerations,
    state: backends.materializeState,
    views: () => allViewVersions(backends.registry.state()),
    serverId,
    ...(backends.heartbeats === undefined ? {} : { heartbeats: backends.heartbeats }),
    warn: (error, message) => logger.warn({ err: error }, message),
  });
  const stores = {
    tileGenerations,
    rebuildBarrier: rebuildBarrier({
      server: { id: serverId, participant: tileGenerations },
      writeBehindStats: () => backends.writeBehind.stats(),
      ...(backends.heartbeats === undefined ? {} : { heartbeats: backends.heartbeats }),
    }),
    online,
    offline: meteredOfflineStore(backends.offline, metrics),
    telemetry,
    writeBehind: backends.writeBehind,
    idempotency: backends.idempotency,
    materializeState: backends.materializeState,
    materializeRunner: backends.materializeRunner,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  };
  const sqlViews = startSqlViewScheduler(options.backend, stores, backends, logger);
  // One set of entry points for every front door (gRPC, Feast HTTP): one read plan cache, one write path.
  const calls = createFeatureStoreCalls(registryAccess, stores, limits);
  server.addService(StrictUtf8FeatureStoreService, createFeatureStoreService(registryAccess, stores, limits, calls));
  server.addService(
    RegistryService,
    createRegistryService(
      backends.registry,
      backends.offline,
      options.maxEventTimeSkewMillis ?? DEFAULT_MAX_EVENT_TIME_SKEW_MILLIS,
    ),
  );
  server.addService(OperationsService, createOperationsService(backends.writeBehind, apiKeys));

  const health = new ServerHealth(
    {
      online: () => online.ping(),
      ...(backends.pingOffline === undefined ? {} : { offline: backends.pingOffline }),
      writeBehind: () => backends.writeBehind.stats(),
    },
    {
      intervalMillis: options.healthCheckIntervalMillis ?? DEFAULT_HEALTH_INTERVAL_MILLIS,
      logger,
      ...(options.maxDrainLagMillis === undefined ? {} : { maxDrainLagMillis: options.maxDrainLagMillis }),
    },
  );
  health.addToServer(server);
  addReflection(server);
  // The first check before the port opens: a probe never sees a status that was not measured.
  await health.start();

  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  let feastServer: FeastHttpServer | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const started = performance.now();
      const since = (): number => Math.round(performance.now() - started);
      health.stop();
      await feastServer?.close();
      await shutdownServer(server, options.shutdownGraceMillis ?? DEFAULT_SHUTDOWN_GRACE_MILLIS, logger);
      logger.debug({ duration_ms: since() }, `shutdown: gRPC server stopped in ${since()} ms`);
      authenticator?.close();
      transport.stop();
      await apiKeys.close();
      stopGenerationRefresh();
      await sqlViews.close();
      await backends.close();
      // Last: a final scrape during shutdown still answers.
      await metricsServer?.close();
      logger.debug({ duration_ms: since() }, `shutdown: closed in ${since()} ms`);
    })();
    return closing;
  };
  // Authentication belongs to the listener: the local one (when asked for) goes without, and both
  // strip the principal headers a client might send. One interceptor per listener does tracing,
  // telemetry and authentication (edge-interceptor.ts): one layer per call instead of three.
  const auth =
    authenticator === undefined
      ? undefined
      : { authenticator, ...(authOptions?.rateLimit === undefined ? {} : { rateLimit: authOptions.rateLimit }) };
  let port: number;
  let localAddress: string | undefined;
  try {
    port = await bind(
      server,
      `${host}:${options.port ?? DEFAULT_PORT}`,
      experimental.createServerCredentialsWithInterceptors(transport.credentials, [
        edgeInterceptor(logger, metrics, auth),
      ]),
    );
    if (options.localPort !== undefined) {
      const localPort = await bind(
        server,
        `127.0.0.1:${options.localPort}`,
        experimental.createServerCredentialsWithInterceptors(ServerCredentials.createInsecure(), [
          edgeInterceptor(logger, metrics, undefined),
        ]),
      );
      localAddress = `127.0.0.1:${localPort}`;
      if (authenticator !== undefined || options.tls !== undefined) {
        warn(`tessera: the local listener ${localAddress} serves this host without authentication or TLS`);
      }
    }
  } catch (error) {
    // A port taken or not allowed: nothing stays open behind the failed start.
    await close();
    throw error;
  }

  if (metrics !== undefined && options.metrics !== undefined) {
    try {
      metricsServer = await startMetricsServer(metrics, options.metrics, logger);
    } catch (error) {
      // A port taken or an address not ours: the server does not start half-observable.
      await close();
      throw new TesseraError(
        'FAILED_PRECONDITION',
        `the metrics endpoint cannot listen on ${options.metrics.host ?? '127.0.0.1'}:${options.metrics.port}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  if (options.feast !== undefined) {
    try {
      feastServer = await startFeastHttpServer(options.feast, {
        calls,
        registryAccess,
        registry: backends.registry,
        authenticator,
        ...(authOptions?.rateLimit === undefined ? {} : { rateLimit: authOptions.rateLimit }),
        tls: options.tls,
        logger,
      });
    } catch (error) {
      await close();
      throw error;
    }
  }
  return {
    port,
    address: `${host}:${port}`,
    feastPort: feastServer?.port,
    registry: backends.registry,
    store: backends.store,
    writeBehind: backends.writeBehind,
    apiKeys,
    authEnabled: authenticator !== undefined,
    tlsEnabled: options.tls !== undefined,
    ...(localAddress === undefined ? {} : { localAddress }),
    metricsPort: metricsServer?.port,
    apply: (definitions, applyOptions) =>
      applyDefinitions(backends.registry, backends.offline, definitions, {
        dryRun: false,
        author: applyOptions.author,
        prune: applyOptions.prune ?? false,
        maxEventTimeSkewMillis: options.maxEventTimeSkewMillis ?? DEFAULT_MAX_EVENT_TIME_SKEW_MILLIS,
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
