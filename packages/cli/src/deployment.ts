/**
 * The deployment configuration (@tessera/config) as the option objects the services take. Only
 * types come from the services here: they load when `serve` or `writer` runs, not for other commands.
 */
import { Option, type Command } from 'commander';
import type { FlagSetting, LoadedConfiguration, TesseraConfig } from '@tessera/config';
import type { BackendOptions, FeatureServerOptions } from '@tessera/feature-server';
import type { WriterProcessOptions } from '@tessera/writer';
import type { RedisClientSettings } from '@tessera/redis';

/** A command-line flag that sets a configuration path. */
export interface DeploymentFlag {
  /** Commander's attribute name, e.g. `maxBatchRows` for `--max-batch-rows`. */
  readonly attribute: string;
  readonly flag: string;
  readonly path: string;
  /** Further paths the flag sets to a fixed value (`--redis-cluster` also selects the backend kind). */
  readonly implies?: readonly { readonly path: string; readonly value: string }[];
}

const REDIS_CLUSTER_FLAG: DeploymentFlag = {
  attribute: 'redisCluster',
  flag: '--redis-cluster',
  path: 'backend.redis.nodes',
  implies: [{ path: 'backend.kind', value: 'redis-cluster' }],
};

const OFFLINE_SERVER_FLAG: DeploymentFlag = {
  attribute: 'offlineServer',
  flag: '--offline-server',
  path: 'backend.offlineServer.address',
};

/** Flags of `serve` (and `config print`), by configuration path. */
export const SERVE_FLAGS: readonly DeploymentFlag[] = [
  { attribute: 'host', flag: '--host', path: 'server.host' },
  { attribute: 'port', flag: '--port', path: 'server.port' },
  { attribute: 'dataDir', flag: '--data-dir', path: 'backend.dataDir' },
  REDIS_CLUSTER_FLAG,
  { attribute: 'keyPrefix', flag: '--key-prefix', path: 'backend.redis.keyPrefix' },
  { attribute: 'clickhouseUrl', flag: '--clickhouse-url', path: 'backend.clickhouseUrl' },
  OFFLINE_SERVER_FLAG,
  { attribute: 'maxBatchRows', flag: '--max-batch-rows', path: 'limits.maxBatchRows' },
  { attribute: 'maxMessageBytes', flag: '--max-message-bytes', path: 'server.maxMessageBytes' },
  { attribute: 'auth', flag: '--auth', path: 'auth.enabled' },
  { attribute: 'tlsCert', flag: '--tls-cert', path: 'tls.certFile' },
  { attribute: 'tlsKey', flag: '--tls-key', path: 'tls.keyFile' },
  { attribute: 'tlsClientCa', flag: '--tls-client-ca', path: 'tls.clientCaFile' },
  { attribute: 'insecure', flag: '--insecure', path: 'server.insecure' },
  { attribute: 'localPort', flag: '--local-port', path: 'server.localPort' },
  { attribute: 'shutdownGraceMs', flag: '--shutdown-grace-ms', path: 'server.shutdownGraceMillis' },
  { attribute: 'logLevel', flag: '--log-level', path: 'log.level' },
  { attribute: 'metricsPort', flag: '--metrics-port', path: 'metrics.port' },
  {
    attribute: 'feastHttpPort',
    flag: '--feast-http-port',
    path: 'feast.port',
    implies: [{ path: 'feast.enabled', value: 'true' }],
  },
];

/** Flags of `offline-server`, by configuration path. */
export const OFFLINE_SERVER_FLAGS: readonly DeploymentFlag[] = [
  { attribute: 'host', flag: '--host', path: 'server.host' },
  { attribute: 'port', flag: '--port', path: 'server.port' },
  { attribute: 'dataDir', flag: '--data-dir', path: 'backend.dataDir' },
  REDIS_CLUSTER_FLAG,
  { attribute: 'keyPrefix', flag: '--key-prefix', path: 'backend.redis.keyPrefix' },
  { attribute: 'maxMessageBytes', flag: '--max-message-bytes', path: 'server.maxMessageBytes' },
  { attribute: 'auth', flag: '--auth', path: 'auth.enabled' },
  { attribute: 'tlsCert', flag: '--tls-cert', path: 'tls.certFile' },
  { attribute: 'tlsKey', flag: '--tls-key', path: 'tls.keyFile' },
  { attribute: 'tlsClientCa', flag: '--tls-client-ca', path: 'tls.clientCaFile' },
  { attribute: 'insecure', flag: '--insecure', path: 'server.insecure' },
  { attribute: 'shutdownGraceMs', flag: '--shutdown-grace-ms', path: 'server.shutdownGraceMillis' },
  { attribute: 'logLevel', flag: '--log-level', path: 'log.level' },
  { attribute: 'metricsPort', flag: '--metrics-port', path: 'metrics.port' },
];

/** Flags of `writer`, by configuration path. */
export const WRITER_FLAGS: readonly DeploymentFlag[] = [
  REDIS_CLUSTER_FLAG,
  { attribute: 'keyPrefix', flag: '--key-prefix', path: 'backend.redis.keyPrefix' },
  { attribute: 'clickhouseUrl', flag: '--clickhouse-url', path: 'backend.clickhouseUrl' },
  OFFLINE_SERVER_FLAG,
  { attribute: 'dataDir', flag: '--data-dir', path: 'writer.dataDir' },
  { attribute: 'concurrency', flag: '--concurrency', path: 'writer.concurrency' },
  { attribute: 'lockMs', flag: '--lock-ms', path: 'writer.lockMillis' },
  { attribute: 'shutdownGraceMs', flag: '--shutdown-grace-ms', path: 'writer.shutdownGraceMillis' },
  { attribute: 'logLevel', flag: '--log-level', path: 'log.level' },
  { attribute: 'metricsPort', flag: '--metrics-port', path: 'metrics.port' },
];

/**
 * Flags of `keys` on a key store, by configuration path: the store is the deployment's, so its Redis
 * credentials and TLS come from TESSERA_* variables or a `--config` file like the services'.
 */
export const KEY_STORE_FLAGS: readonly DeploymentFlag[] = [
  { attribute: 'dataDir', flag: '--data-dir', path: 'backend.dataDir' },
  REDIS_CLUSTER_FLAG,
  { attribute: 'keyPrefix', flag: '--key-prefix', path: 'backend.redis.keyPrefix' },
];

/** Adds `--config` (also TESSERA_CONFIG) and the flags every service command shares. */
export function addConfigOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--config <file>',
        'YAML deployment configuration (flags > TESSERA_* variables > file > defaults)',
      ).env('TESSERA_CONFIG'),
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent (default info)')
    .option('--metrics-port <port>', 'port of the Prometheus /metrics server (0 = any free port)');
}

/** The configuration package, once a command has loaded a configuration. */
let configurationModule: typeof import('@tessera/config') | undefined;

/**
 * Whether `error` is a configuration that does not validate. Only a command that loaded one (through
 * {@link loadCommandConfiguration}) can fail so, which is why the package need not load to tell.
 */
export function isConfigurationFailure(error: unknown): boolean {
  return configurationModule?.isConfigurationError(error) ?? false;
}

/**
 * The effective configuration of `command`: its `--config` file, the environment, and the flags of
 * `flags` the user typed (their defaults stay out, so the environment and the file can set them).
 * The configuration package (zod) loads here, so commands that take no configuration start without it.
 */
export async function loadCommandConfiguration(
  command: Command,
  flags: readonly DeploymentFlag[],
): Promise<LoadedConfiguration> {
  configurationModule ??= await import('@tessera/config');
  const { loadConfiguration } = configurationModule;
  const settings: FlagSetting[] = [];
  for (const flag of flags) {
    if (command.getOptionValueSource(flag.attribute) !== 'cli') continue;
    const value: unknown = command.getOptionValue(flag.attribute);
    if (typeof value !== 'string' && typeof value !== 'boolean') continue;
    settings.push({ flag: flag.flag, path: flag.path, value });
    for (const implied of flag.implies ?? [])
      settings.push({ flag: flag.flag, path: implied.path, value: implied.value });
  }
  const file: unknown = command.getOptionValue('config');
  return loadConfiguration({ ...(typeof file === 'string' ? { file } : {}), flags: settings });
}

/** `host:port,host:port` of the configured Redis nodes. */
export function nodeList(config: TesseraConfig): string {
  return config.backend.redis.nodes.map(({ host, port }) => `${host}:${port}`).join(',');
}

/** The feature server's options. */
export function featureServerOptions(config: TesseraConfig): FeatureServerOptions {
  const { server, auth, tls, limits, feast } = config;
  return {
    host: server.host,
    port: server.port,
    backend: backendOptions(config),
    maxMessageBytes: server.maxMessageBytes,
    maxBatchRows: limits.maxBatchRows,
    maxEntityRows: limits.maxEntityRows,
    maxEntitySetRows: limits.maxEntitySetRows,
    maxRefsPerRequest: limits.maxRefsPerRequest,
    maxEventTimeSkewMillis: limits.maxEventTimeSkewMillis,
    lanes: limits.lanes,
    shutdownGraceMillis: server.shutdownGraceMillis,
    insecure: server.insecure,
    ...definedOnly({
      localPort: server.localPort,
      maxConcurrentStreams: server.maxConcurrentStreams,
      keepaliveTimeMillis: server.keepaliveTimeMillis,
      keepaliveTimeoutMillis: server.keepaliveTimeoutMillis,
      maxConnectionIdleMillis: server.maxConnectionIdleMillis,
      healthCheckIntervalMillis: server.healthCheckIntervalMillis,
      maxDrainLagMillis: server.maxDrainLagMillis,
    }),
    ...(feast.enabled
      ? { feast: { host: feast.host, port: feast.port, maxBodyBytes: feast.maxBodyBytes, expired: feast.expired } }
      : {}),
    auth: auth.enabled
      ? definedOnly({ refreshIntervalMillis: auth.refreshIntervalMillis, rateLimit: auth.rateLimit })
      : false,
    ...(tls.certFile === undefined || tls.keyFile === undefined
      ? {}
      : {
          tls: {
            certFile: tls.certFile,
            keyFile: tls.keyFile,
            ...definedOnly({ clientCaFile: tls.clientCaFile, reloadIntervalMillis: tls.reloadIntervalMillis }),
          },
        }),
  };
}

/** Where the server keeps its data. */
export function backendOptions(config: TesseraConfig): BackendOptions {
  const { backend } = config;
  const offlineServer = offlineServerOptions(config);
  const common = {
    ...definedOnly({ clickhouseUrl: backend.clickhouseUrl }),
    ...(offlineServer === undefined ? {} : { offlineServer }),
    writeBehind: definedOnly({
      attempts: backend.writeBehind.attempts,
      backoffMillis: backend.writeBehind.backoffMillis,
    }),
  };
  return backend.kind === 'redis-cluster'
    ? {
        kind: 'redis-cluster',
        nodes: backend.redis.nodes,
        keyPrefix: backend.redis.keyPrefix,
        redis: redisSettings(config),
        ...common,
      }
    : { kind: 'embedded', dataDir: backend.dataDir, ...common };
}

/** The writer's options. */
export function writerProcessOptions(config: TesseraConfig): WriterProcessOptions {
  const { backend, writer } = config;
  const offlineServer = offlineServerOptions(config);
  return {
    nodes: backend.redis.nodes,
    keyPrefix: backend.redis.keyPrefix,
    redis: redisSettings(config),
    dataDir: writer.dataDir,
    concurrency: writer.concurrency,
    lockMillis: writer.lockMillis,
    shutdownGraceMillis: writer.shutdownGraceMillis,
    ...definedOnly({ clickhouseUrl: backend.clickhouseUrl }),
    ...(offlineServer === undefined ? {} : { offlineServer }),
  };
}

type RemoteOfflineStoreOptions = NonNullable<WriterProcessOptions['offlineServer']>;

/** The remote offline store of servers and writers, when `backend.offlineServer.address` is set. */
export function offlineServerOptions(config: TesseraConfig): RemoteOfflineStoreOptions | undefined {
  const { address, apiKey, tls } = config.backend.offlineServer;
  if (address === undefined) return undefined;
  return {
    address,
    maxMessageBytes: config.server.maxMessageBytes,
    ...definedOnly({ apiKey }),
    ...(tls.enabled
      ? {
          tls: definedOnly({
            caFile: tls.caFile,
            certFile: tls.certFile,
            keyFile: tls.keyFile,
            serverName: tls.serverName,
          }),
        }
      : {}),
  };
}

/** Authentication and TLS of the deployment's Redis clients. */
export function redisSettings(config: TesseraConfig): RedisClientSettings {
  const { username, password, tls } = config.backend.redis;
  return {
    ...definedOnly({ username, password }),
    ...(tls.enabled
      ? {
          tls: definedOnly({
            caFile: tls.caFile,
            certFile: tls.certFile,
            keyFile: tls.keyFile,
            serverName: tls.serverName,
          }),
        }
      : {}),
  };
}

type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

/** `values` without its undefined entries (the options are exactOptionalPropertyTypes). */
function definedOnly<T extends object>(values: T): Defined<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Defined<T>;
}
