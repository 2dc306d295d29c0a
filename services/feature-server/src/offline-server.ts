/**
 * The offline server: one process that owns a chDB data directory and serves the offline store
 * port (`tessera.offline.v1.OfflineStore`) to the feature servers and writers of a deployment
 * without a ClickHouse server (chDB allows one process per data directory). Its listener is a
 * feature server's: the same exposure rule, API keys (the deployment's, every method needs
 * `admin`), TLS, health, reflection and drain on close.
 */
import { Server, experimental } from '@grpc/grpc-js';
import { TesseraError, type Logger } from '@tessera/core';
import { TableEnsuringOfflineStore, openEmbeddedOfflineStore } from '@tessera/offline';
import { createOfflineStoreService } from '@tessera/offline-remote';
import { OfflineStoreService } from '@tessera/proto';
import { ApiKeyAuthenticator, openApiKeyStore, type ApiKeyStoreLocation } from '@tessera/registry';
import { TesseraMetrics, createLogger, startMetricsServer, type MetricsEndpointOptions } from '@tessera/telemetry';
import { OfflineServerHealth } from './offline-health.js';
import { OFFLINE_SERVER_SERVICES, addReflection } from './reflection.js';
import type { ServerAuthOptions } from './server.js';
import { bind, checkExposure, keepPrivate } from './listen.js';
import { openAuthenticator, warnIfInsecure } from './open-authenticator.js';
import { shutdownServer } from './shutdown.js';
import { edgeInterceptor } from './edge-interceptor.js';
import { serverTransport, type ServerTlsOptions } from './tls.js';

/** Options of an offline server. */
export interface OfflineServerOptions {
  /** Address to bind. Default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port. Default 6567. */
  readonly port?: number;
  /** Folder of the chDB store (under `<dataDir>/offline`); embedded mode keeps its API keys here too. */
  readonly dataDir: string;
  /** Where the deployment's API keys are: its Redis Cluster, or `dataDir` (embedded). */
  readonly apiKeys: ApiKeyStoreLocation;
  /** API key authentication (every method needs `admin`). Off by default (loopback use only). */
  readonly auth?: boolean | ServerAuthOptions;
  readonly tls?: ServerTlsOptions;
  /** Allow a non-loopback host without auth and TLS (a warning on every start). */
  readonly insecure?: boolean;
  /** Largest message in bytes. Default 64 MiB. */
  readonly maxMessageBytes?: number;
  /** Most rows an entity SELECT or view entity set may produce. Default: the store's. */
  readonly maxEntitySetRows?: number;
  /** On close, how long calls in flight may take before they are cancelled, ms. Default 10,000. */
  readonly shutdownGraceMillis?: number;
  /** How often chDB is pinged for the health service, ms. Default 2,000. */
  readonly healthCheckIntervalMillis?: number;
  /** Default: pino JSON lines on stdout at `info`. */
  readonly logger?: Logger;
  /** A Prometheus `/metrics` endpoint (RPC latencies and statuses). Off by default. */
  readonly metrics?: MetricsEndpointOptions;
}

/** A running offline server. */
export interface OfflineServer {
  readonly port: number;
  readonly address: string;
  readonly authEnabled: boolean;
  readonly tlsEnabled: boolean;
  /** Port of the `/metrics` endpoint, when the server has one. */
  readonly metricsPort: number | undefined;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export const DEFAULT_OFFLINE_SERVER_PORT = 6567;
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_SHUTDOWN_GRACE_MILLIS = 10_000;

/** Starts an offline server over the chDB store under `dataDir`. */
export async function startOfflineServer(options: OfflineServerOptions): Promise<OfflineServer> {
  const host = options.host ?? '127.0.0.1';
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const logger = options.logger ?? createLogger({ level: 'info', bindings: { service: 'tessera-offline-server' } });
  const warn = (message: string): void => logger.warn({}, message);
  checkExposure(host, options);
  const transport = serverTransport(options.tls, warn);
  keepPrivate(options.dataDir);
  const store = await openEmbeddedOfflineStore(options.dataDir).catch((error: unknown) => {
    transport.stop();
    throw error;
  });
  const ping = async (): Promise<void> => {
    await store.executor.queryJson('SELECT 1');
  };
  const apiKeys = openApiKeyStore(options.apiKeys);
  const authOptions = options.auth === true ? {} : options.auth === false ? undefined : options.auth;
  let authenticator: ApiKeyAuthenticator | undefined;
  try {
    authenticator = await openAuthenticator(apiKeys, authOptions, logger);
  } catch (error) {
    transport.stop();
    await apiKeys.close();
    await store.close();
    throw error;
  }
  warnIfInsecure(warn, {
    insecure: options.insecure,
    host,
    authenticated: authenticator !== undefined,
    tls: options.tls !== undefined,
    openTo: 'read and write every offline row',
  });
  const server = new Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
  });
  server.addService(
    OfflineStoreService,
    // Tables are ensured here too: a caller that skipped EnsureTables still writes into the right table.
    createOfflineStoreService(new TableEnsuringOfflineStore(store), {
      ping,
      ...(options.maxEntitySetRows === undefined ? {} : { maxEntitySetRows: options.maxEntitySetRows }),
      onInternalError: (error, method) =>
        logger.error({ err: error, method }, `offline server: ${method} failed with an internal error`),
    }),
  );
  const health = new OfflineServerHealth(ping, logger, options.healthCheckIntervalMillis);
  health.addToServer(server);
  addReflection(server, OFFLINE_SERVER_SERVICES);
  await health.start();

  const metrics = options.metrics === undefined ? undefined : new TesseraMetrics({ logger });
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      health.stop();
      await shutdownServer(server, options.shutdownGraceMillis ?? DEFAULT_SHUTDOWN_GRACE_MILLIS, logger);
      authenticator?.close();
      transport.stop();
      await apiKeys.close();
      await store.close();
      await metricsServer?.close();
    })();
    return closing;
  };
  const auth =
    authenticator === undefined
      ? undefined
      : { authenticator, ...(authOptions?.rateLimit === undefined ? {} : { rateLimit: authOptions.rateLimit }) };
  let port: number;
  try {
    port = await bind(
      server,
      `${host}:${options.port ?? DEFAULT_OFFLINE_SERVER_PORT}`,
      experimental.createServerCredentialsWithInterceptors(transport.credentials, [
        edgeInterceptor(logger, metrics, auth),
      ]),
    );
  } catch (error) {
    await close();
    throw error instanceof TesseraError ? error : new TesseraError('FAILED_PRECONDITION', String(error));
  }
  if (metrics !== undefined && options.metrics !== undefined) {
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
    port,
    address: `${host}:${port}`,
    authEnabled: authenticator !== undefined,
    tlsEnabled: options.tls !== undefined,
    metricsPort: metricsServer?.port,
    close,
    [Symbol.asyncDispose]: close,
  };
}
