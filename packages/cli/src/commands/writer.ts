/**
 * `tessera writer`: runs a write-behind writer from the deployment configuration, inserting the
 * queued offline rows of a cluster-mode deployment into ClickHouse.
 */
import type { Command } from 'commander';
import { TesseraError } from '@tessera/core/basics';
import { listenForStop } from '../stop-signal.js';
import { checkNoSecretInArgv } from '../connection.js';
import {
  WRITER_FLAGS,
  addConfigOptions,
  loadCommandConfiguration,
  nodeList,
  writerProcessOptions,
} from '../deployment.js';

/** Registers `writer` on the program. */
export function registerWriterCommand(program: Command): void {
  const writerCommand = addConfigOptions(
    program
      .command('writer')
      .description(
        'run a write-behind writer: insert the queued offline rows of a cluster-mode deployment into ClickHouse',
      ),
  )
    .option('--redis-cluster <nodes>', 'Redis Cluster seed nodes host:port,... (or backend.redis.nodes in --config)')
    .option('--key-prefix <prefix>', 'prefix of every Redis key (as the servers)', '')
    .option(
      '--clickhouse-url <url>',
      'ClickHouse HTTP endpoint (default: embedded chDB under --data-dir); with a password, set TESSERA_CLICKHOUSE_URL instead',
    )
    .option(
      '--offline-server <address>',
      'host:port of a `tessera offline-server` to insert into (not with --clickhouse-url); its API key from TESSERA_OFFLINE_API_KEY',
    )
    .option('--data-dir <dir>', 'folder of the embedded chDB offline store', '.tessera/writer')
    .option('--concurrency <n>', 'jobs inserted at once', '4')
    .option('--lock-ms <ms>', 'how long a dead writer keeps its jobs before another writer takes them', '30000')
    .option(
      '--shutdown-grace-ms <ms>',
      'on SIGTERM, how long the jobs in hand may take to finish before they are left to another writer',
      '10000',
    )
    .action(async () => {
      checkNoSecretInArgv(writerCommand, 'clickhouseUrl', '--clickhouse-url', 'TESSERA_CLICKHOUSE_URL');
      const { config } = await loadCommandConfiguration(writerCommand, WRITER_FLAGS);
      if (config.backend.redis.nodes.length === 0) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          'the writer needs the Redis Cluster: --redis-cluster, TESSERA_BACKEND_REDIS_NODES or backend.redis.nodes in --config',
        );
      }
      process.umask(0o077);
      const stop = listenForStop();
      const options = writerProcessOptions(config);
      // Loaded here, not at the program's start: client commands never pay for pino and prom-client.
      const { configuredLogger, configuredMetrics, startConfiguredTracing } = await import('../observability.js');
      const logger = configuredLogger(config, 'tessera-writer');
      const metrics = configuredMetrics(config, writerCommand);
      const tracing = await startConfiguredTracing(config, 'tessera-writer');
      const { startWriterProcess } = await import('@tessera/writer');
      const writer = await startWriterProcess({
        ...options,
        logger,
        ...(metrics === undefined ? {} : { metrics }),
      }).catch(async (error: unknown) => {
        await tracing.shutdown();
        throw error;
      });
      const target =
        options.offlineServer === undefined
          ? (options.clickhouseUrl ?? `chDB in ${options.dataDir}`)
          : `the offline server ${options.offlineServer.address}`;
      if (writer.metricsPort !== undefined) {
        console.log(`tessera: metrics on http://${config.metrics.host}:${writer.metricsPort}/metrics`);
      }
      console.log(`tessera: writer consuming the write-behind queue of ${nodeList(config)} into ${target}`);
      await stop.received;
      console.log('tessera: writer finishing the jobs in hand');
      stop.bound(config.writer.shutdownGraceMillis);
      await writer.close();
      await tracing.shutdown();
    });
}
