/**
 * `tessera offline-server`: runs the process that owns a chDB data directory and serves the
 * offline store to the feature servers and writers of a deployment without a ClickHouse server
 * (they point at it with --offline-server host:port).
 */
import type { Command } from 'commander';
import { listenForStop } from '../stop-signal.js';
import {
  OFFLINE_SERVER_FLAGS,
  addConfigOptions,
  loadCommandConfiguration,
  nodeList,
  redisSettings,
} from '../deployment.js';

/** Port of the offline server when neither a flag, the environment nor the file names one. */
const DEFAULT_OFFLINE_SERVER_PORT = 6567;

/** Registers `offline-server` on the program. */
export function registerOfflineServerCommand(program: Command): void {
  const command = addConfigOptions(
    program
      .command('offline-server')
      .description(
        'serve the offline store (chDB under --data-dir) to the servers and writers of a deployment without a ClickHouse server',
      ),
  )
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', String(DEFAULT_OFFLINE_SERVER_PORT))
    .option('--data-dir <dir>', 'folder of the chDB store (and of the API keys without --redis-cluster)', '.tessera')
    .option('--redis-cluster <nodes>', "the deployment's Redis Cluster host:port,..., where its API keys are")
    .option('--key-prefix <prefix>', 'prefix of every Redis key (as the servers)', '')
    .option('--max-message-bytes <n>', 'largest gRPC message in bytes', String(64 * 1024 * 1024))
    .option('--auth', 'require an API key with the admin scope on every call; also TESSERA_AUTH')
    .option('--tls-cert <file>', 'TLS certificate chain (PEM); also TESSERA_TLS_CERT')
    .option('--tls-key <file>', 'TLS private key (PEM); also TESSERA_TLS_KEY')
    .option('--tls-client-ca <file>', 'require client certificates signed by this CA (mTLS)')
    .option('--insecure', 'allow a non-loopback --host without --auth and TLS (logs a warning on every start)')
    .option('--shutdown-grace-ms <ms>', 'on SIGTERM, how long calls in flight may take to finish', '10000')
    .action(async () => {
      const { config, sources } = await loadCommandConfiguration(command, OFFLINE_SERVER_FLAGS);
      const { server, backend, auth, tls } = config;
      const stop = listenForStop();
      // chDB parts and key hashes are readable by their owner only.
      process.umask(0o077);
      // Loaded here, not at the program's start: client commands never pay for pino and prom-client.
      const { configuredLogger, configuredMetrics, startConfiguredTracing } = await import('../observability.js');
      const logger = configuredLogger(config, 'tessera-offline-server');
      const metrics = configuredMetrics(config, command);
      const tracing = await startConfiguredTracing(config, 'tessera-offline-server');
      const { startOfflineServer } = await import('@tessera/feature-server');
      const cluster = backend.kind === 'redis-cluster';
      const offline = await startOfflineServer({
        host: server.host,
        port: sources.has('server.port') ? server.port : DEFAULT_OFFLINE_SERVER_PORT,
        dataDir: backend.dataDir,
        apiKeys: cluster
          ? {
              kind: 'redis-cluster',
              nodes: backend.redis.nodes,
              keyPrefix: backend.redis.keyPrefix,
              redis: redisSettings(config),
            }
          : { kind: 'embedded', dataDir: backend.dataDir },
        insecure: server.insecure,
        maxMessageBytes: server.maxMessageBytes,
        maxEntitySetRows: config.limits.maxEntitySetRows,
        shutdownGraceMillis: server.shutdownGraceMillis,
        ...(server.healthCheckIntervalMillis === undefined
          ? {}
          : { healthCheckIntervalMillis: server.healthCheckIntervalMillis }),
        auth: auth.enabled
          ? {
              ...(auth.refreshIntervalMillis === undefined
                ? {}
                : { refreshIntervalMillis: auth.refreshIntervalMillis }),
              ...(auth.rateLimit === undefined ? {} : { rateLimit: auth.rateLimit }),
            }
          : false,
        ...(tls.certFile === undefined || tls.keyFile === undefined
          ? {}
          : {
              tls: {
                certFile: tls.certFile,
                keyFile: tls.keyFile,
                ...(tls.clientCaFile === undefined ? {} : { clientCaFile: tls.clientCaFile }),
                ...(tls.reloadIntervalMillis === undefined ? {} : { reloadIntervalMillis: tls.reloadIntervalMillis }),
              },
            }),
        logger,
        ...(metrics === undefined ? {} : { metrics }),
      }).catch(async (error: unknown) => {
        await tracing.shutdown();
        throw error;
      });
      const keys = cluster ? `API keys of Redis Cluster ${nodeList(config)}` : `API keys in ${backend.dataDir}`;
      console.log(
        `tessera: serving on ${offline.address} (offline store: chDB in ${backend.dataDir}; ${auth.enabled ? keys : 'no authentication'})`,
      );
      if (offline.metricsPort !== undefined) {
        console.log(`tessera: metrics on http://${config.metrics.host}:${offline.metricsPort}/metrics`);
      }
      await stop.received;
      console.log('tessera: shutting down');
      stop.bound(server.shutdownGraceMillis);
      await offline.close();
      await tracing.shutdown();
    });
}
