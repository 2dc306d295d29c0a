import { chmodSync, mkdirSync } from 'node:fs';
import { Server } from '@grpc/grpc-js';
import { TesseraError } from '@tessera/core';
import type { ApiKeyStore, Definitions, OnlineStore } from '@tessera/core';
import { ApiKeyAuthenticator } from '@tessera/registry';
import type { ApplyResult, Registry } from '@tessera/registry';
import type { WriteBehind } from '@tessera/writebehind';
import { OperationsService, RegistryService } from '@tessera/proto';
import { StrictUtf8FeatureStoreService } from './strict-utf8.js';
import { pickDefined } from './request-checks.js';
import { createFeatureStoreService } from './feature-store-service.js';
import { createRegistryAccess } from './registry-access.js';
import { applyDefinitions, createRegistryService } from './registry-service.js';
import { createOperationsService } from './operations-service.js';
import { addReflection } from './reflection.js';
import { openBackends } from './backends.js';
import { allViewVersions } from '@tessera/offline';
import type { BackendOptions } from './backends.js';
import { authInterceptor } from './auth.js';
import { rpcTracingInterceptor } from './rpc-tracing.js';
import { openApiKeyStore } from '@tessera/registry';
import type { RateLimit } from './rate-limit.js';
import { isLoopbackHost, serverTransport, type ServerTlsOptions } from './tls.js';
import { createLanes, type LaneOptions } from './lanes.js';
import { debug } from './debug.js';
import { DEFAULT_HEALTH_INTERVAL_MILLIS, ServerHealth } from './health.js';

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
   * Allow binding a non-loopback address without both auth and TLS. Meant for a trusted network or a
   * proxy that terminates TLS and authenticates; a warning is logged on every start.
   */
  readonly insecure?: boolean;
  /** Where warnings go. Default console.warn. */
  readonly warn?: (message: string) => void;
  /** Calls in flight on one client connection; more wait for a free stream. Default 256. */
  readonly maxConcurrentStreams?: number;
  /** Interval of the server's keepalive pings on a connection, ms. Default 60,000. */
  readonly keepaliveTimeMillis?: number;
  /** A connection that does not answer a keepalive ping within this is closed, ms. Default 20,000. */
  readonly keepaliveTimeoutMillis?: number;
  /** A connection with no call for this long is closed (clients reconnect on their next call), ms. Default 600,000. */
  readonly maxConnectionIdleMillis?: number;
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
  /** Applies definitions in-process (as Registry.Apply does, with `author` recorded). */
  apply(definitions: Definitions, options: { readonly author: string; readonly prune?: boolean }): Promise<ApplyResult>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a feature server: FeatureStore, Registry, grpc.health.v1.Health and reflection. */
export async function startFeatureServer(options: FeatureServerOptions): Promise<FeatureServer> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const host = options.host ?? '127.0.0.1';
  const warn = options.warn ?? ((message: string) => console.warn(message));
  checkExposure(host, options);
  // Checked before any store opens: a bad certificate path fails fast and leaves nothing behind.
  const transport = serverTransport(options.tls, warn);
  if (options.backend.kind === 'embedded') keepPrivate(options.backend.dataDir);
  const backends = await openBackends(options.backend);
  const apiKeys = openApiKeyStore(options.backend);
  const authOptions = options.auth === true ? {} : options.auth === false ? undefined : options.auth;
  let authenticator: ApiKeyAuthenticator | undefined;
  try {
    authenticator =
      authOptions === undefined
        ? undefined
        : await ApiKeyAuthenticator.open(apiKeys, {
            ...(authOptions.refreshIntervalMillis === undefined
              ? {}
              : { refreshIntervalMillis: authOptions.refreshIntervalMillis }),
            onRefreshError: (error) =>
              warn(`tessera: reloading API keys failed (the loaded keys stay in force): ${String(error)}`),
          });
  } catch (error) {
    transport.stop();
    await apiKeys.close();
    await backends.close();
    throw error;
  }
  if (options.insecure === true && !isLoopbackHost(host)) {
    warn(
      `tessera: WARNING --insecure: serving ${host} without ${[authenticator ? '' : 'authentication', options.tls ? '' : 'TLS'].filter(Boolean).join(' or ')}; anyone who reaches the port can ${authenticator ? 'read the traffic' : 'read, write and administer this deployment'}`,
    );
  }
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
    // Tracing first: grpc-js runs the first interceptor innermost (see rpc-tracing.ts).
    interceptors: [
      rpcTracingInterceptor(),
      authInterceptor(
        authenticator === undefined
          ? undefined
          : { authenticator, ...(authOptions?.rateLimit === undefined ? {} : { rateLimit: authOptions.rateLimit }) },
      ),
    ],
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
  server.addService(
    StrictUtf8FeatureStoreService,
    createFeatureStoreService(
      createRegistryAccess(backends.registry),
      {
        online: backends.store,
        offline: backends.offline,
        writeBehind: backends.writeBehind,
        idempotency: backends.idempotency,
        materializeState: backends.materializeState,
        materializeRunner: backends.materializeRunner,
      },
      limits,
    ),
  );
  server.addService(RegistryService, createRegistryService(backends.registry, backends.offline));
  server.addService(OperationsService, createOperationsService(backends.writeBehind, apiKeys));

  const health = new ServerHealth(
    {
      online: () => backends.store.ping(),
      ...(backends.pingOffline === undefined ? {} : { offline: backends.pingOffline }),
      writeBehind: () => backends.writeBehind.stats(),
    },
    {
      intervalMillis: options.healthCheckIntervalMillis ?? DEFAULT_HEALTH_INTERVAL_MILLIS,
      ...(options.maxDrainLagMillis === undefined ? {} : { maxDrainLagMillis: options.maxDrainLagMillis }),
    },
  );
  health.addToServer(server);
  addReflection(server);
  // The first check before the port opens: a probe never sees a status that was not measured.
  await health.start();

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${options.port ?? DEFAULT_PORT}`, transport.credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const started = performance.now();
      health.stop();
      await shutdownServer(server, options.shutdownGraceMillis ?? DEFAULT_SHUTDOWN_GRACE_MILLIS);
      debug('shutdown', `gRPC server stopped in ${(performance.now() - started).toFixed(0)} ms`);
      authenticator?.close();
      transport.stop();
      await apiKeys.close();
      await backends.close();
      debug('shutdown', `closed in ${(performance.now() - started).toFixed(0)} ms`);
    })();
    return closing;
  };
  return {
    port,
    address: `${host}:${port}`,
    registry: backends.registry,
    store: backends.store,
    writeBehind: backends.writeBehind,
    apiKeys,
    authEnabled: authenticator !== undefined,
    tlsEnabled: options.tls !== undefined,
    apply: (definitions, applyOptions) =>
      applyDefinitions(backends.registry, backends.offline, definitions, {
        dryRun: false,
        author: applyOptions.author,
        prune: applyOptions.prune ?? false,
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Refuses to expose a server without authentication and TLS: only loopback may go without them,
 * unless the operator says --insecure.
 */
function checkExposure(host: string, options: FeatureServerOptions): void {
  const auth = options.auth !== undefined && options.auth !== false;
  if (isLoopbackHost(host) || (auth && options.tls !== undefined) || options.insecure === true) return;
  const missing = [auth ? '' : 'authentication (--auth)', options.tls ? '' : 'TLS (--tls-cert and --tls-key)']
    .filter(Boolean)
    .join(' and ');
  throw new TesseraError(
    'FAILED_PRECONDITION',
    `refusing to serve ${host} without ${missing}: only loopback addresses may go without them. ` +
      'Turn them on, bind 127.0.0.1, or pass --insecure to accept the risk.',
  );
}

/** The data directory holds every feature value and the API key hashes: owner only. */
function keepPrivate(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
}

/**
 * Stops accepting calls at once and lets the calls in flight finish for up to `graceMillis`, then
 * cancels what is left. Idle connections are closed without waiting (HTTP/2 GOAWAY).
 */
function shutdownServer(server: Server, graceMillis: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      debug('shutdown', `calls still in flight after ${graceMillis} ms: cancelling them`);
      server.forceShutdown();
      resolve();
    }, graceMillis);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
