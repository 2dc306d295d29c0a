import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { OnlineStore } from '@tessera/core';
import type { Registry } from '@tessera/registry';
import type { WriteBehind } from '@tessera/writebehind';
import { FeatureStoreService, OperationsService, RegistryService } from '@tessera/proto';
import { createFeatureStoreService } from './feature-store-service.js';
import { createRegistryAccess } from './registry-access.js';
import { createRegistryService } from './registry-service.js';
import { createOperationsService } from './operations-service.js';
import { addReflection } from './reflection.js';
import { openBackends } from './backends.js';
import { allViewVersions } from '@tessera/offline';
import type { BackendOptions } from './backends.js';
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
  /** How often the health service checks each component (see health.ts), ms. Default 2,000. */
  readonly healthCheckIntervalMillis?: number;
  /** Age of the oldest pending write-behind entry before `tessera.writebehind.drain` is NOT_SERVING, ms. Default 60,000. */
  readonly maxDrainLagMillis?: number;
  /**
   * On close, how long calls in flight may take to finish before they are cancelled, ms. New calls
   * are refused from the start of the close. Default 10,000.
   */
  readonly shutdownGraceMillis?: number;
}

export const DEFAULT_PORT = 6566;
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
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a feature server: FeatureStore, Registry, grpc.health.v1.Health and reflection. */
export async function startFeatureServer(options: FeatureServerOptions): Promise<FeatureServer> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const backends = await openBackends(options.backend);
  const server = new Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
  });
  const limits = {
    maxBatchRows: options.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS,
    maxEntityRows: options.maxEntityRows ?? DEFAULT_MAX_ENTITY_ROWS,
  };
  await backends.offline?.ensureTables(allViewVersions(backends.registry.state()));
  server.addService(
    FeatureStoreService,
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
  server.addService(OperationsService, createOperationsService(backends.writeBehind));

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

  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${options.port ?? DEFAULT_PORT}`, ServerCredentials.createInsecure(), (error, bound) =>
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
    close,
    [Symbol.asyncDispose]: close,
  };
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
