import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
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
import { createLanes, type LaneOptions } from './lanes.js';

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
  /** GetHistorical and Materialize calls running at once, each in its own lane (RESOURCE_EXHAUSTED beyond). Defaults 4 and 2. */
  readonly lanes?: LaneOptions;
  /** Most rows an entity SELECT or view entity set may produce. Default 10,000,000. */
  readonly maxEntitySetRows?: number;
  /** How often to check the online store for the health service, ms. Default 2,000. */
  readonly healthCheckIntervalMillis?: number;
}

export const DEFAULT_PORT = 6566;
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_BATCH_ROWS = 10_000;
const DEFAULT_MAX_ENTITY_ROWS = 2_000_000;
const DEFAULT_HEALTH_CHECK_INTERVAL_MILLIS = 2_000;
const SERVICE_NAMES = ['tessera.v1.FeatureStore', 'tessera.v1.Registry', 'tessera.v1.Operations'];

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
    ...(options.maxEntitySetRows === undefined ? {} : { maxEntitySetRows: options.maxEntitySetRows }),
    lanes: createLanes(options.lanes),
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

  const health = new HealthImplementation({
    '': 'SERVING',
    ...Object.fromEntries(SERVICE_NAMES.map((s) => [s, 'SERVING'])),
  });
  health.addToServer(server);
  addReflection(server);

  // The health status follows the online store: NOT_SERVING while it cannot be reached.
  const healthTimer = setInterval(() => {
    backends.store.ping().then(
      () => SERVICE_NAMES.concat('').forEach((s) => health.setStatus(s, 'SERVING')),
      () => SERVICE_NAMES.concat('').forEach((s) => health.setStatus(s, 'NOT_SERVING')),
    );
  }, options.healthCheckIntervalMillis ?? DEFAULT_HEALTH_CHECK_INTERVAL_MILLIS);
  healthTimer.unref();

  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${options.port ?? DEFAULT_PORT}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(healthTimer);
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await backends.close();
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
