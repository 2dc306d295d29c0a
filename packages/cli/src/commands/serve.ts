/**
 * `tessera serve`: runs a feature server from the deployment configuration (flags, TESSERA_*
 * variables, a --config file), then optionally applies a repository and loads data into it.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { TesseraError } from '@tessera/core/basics';
import { TesseraClient } from '@tessera/client';
import type { BackendOptions, FeatureServer } from '@tessera/feature-server';
import { listenForStop, type StopSignal } from '../stop-signal.js';
import { checkNoSecretInArgv } from '../connection.js';
import { DEFAULT_PORT, DEFAULT_TIMESTAMP_COLUMN } from '../command-options.js';
import {
  SERVE_FLAGS,
  addConfigOptions,
  featureServerOptions,
  loadCommandConfiguration,
  nodeList,
} from '../deployment.js';

/** Adds the server's flags (shared with `config print`, which shows what they make). */
export function addServeOptions(command: Command): Command {
  return addConfigOptions(command)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', String(DEFAULT_PORT))
    .option('--data-dir <dir>', 'embedded data directory', '.tessera')
    .option('--redis-cluster <nodes>', 'Redis Cluster seed nodes host:port,... (cluster mode)')
    .option('--key-prefix <prefix>', 'prefix of every Redis key (cluster mode)', '')
    .option(
      '--clickhouse-url <url>',
      'ClickHouse HTTP endpoint of the offline store (default: embedded chDB under --data-dir; none in cluster mode); with a password, set TESSERA_CLICKHOUSE_URL instead',
    )
    .option(
      '--offline-server <address>',
      'host:port of a `tessera offline-server` as the offline store (not with --clickhouse-url); its API key from TESSERA_OFFLINE_API_KEY',
    )
    .option('--max-batch-rows <n>', 'most entities per read and rows per write message', '10000')
    .option('--max-message-bytes <n>', 'largest gRPC message in bytes', String(64 * 1024 * 1024))
    .option('--auth', 'require an API key on every call (tessera keys create); also TESSERA_AUTH')
    .option('--tls-cert <file>', 'TLS certificate chain (PEM); also TESSERA_TLS_CERT')
    .option('--tls-key <file>', 'TLS private key (PEM); also TESSERA_TLS_KEY')
    .option(
      '--tls-client-ca <file>',
      'require client certificates signed by this CA (mTLS); also TESSERA_TLS_CLIENT_CA',
    )
    .option('--insecure', 'allow a non-loopback --host without --auth and TLS (logs a warning on every start)')
    .option(
      '--local-port <port>',
      'also serve 127.0.0.1:<port> in plaintext without authentication, for clients on this host or pod (0 = any free port)',
    )
    .option(
      '--feast-http-port <port>',
      "also serve Feast's HTTP feature-server endpoints on this port, for Feast SDKs with the remote online store (0 = any free port; host from feast.host)",
    )
    .option(
      '--shutdown-grace-ms <ms>',
      'on SIGTERM, how long calls in flight may take to finish before they are cancelled',
      '10000',
    );
}

/** Registers `serve` on the program. */
export function registerServeCommand(program: Command): void {
  const serveCommand = addServeOptions(
    program.command('serve').description('run a feature server (embedded LMDB store under ./.tessera by default)'),
  )
    .option('--apply <repo>', 'apply this feature repository once the server is up')
    .option('--load <dir>', 'then write every <view>.csv / <view>.jsonl file of this folder to its view')
    .action(async (opts: { apply?: string; load?: string }) => {
      checkNoSecretInArgv(serveCommand, 'clickhouseUrl', '--clickhouse-url', 'TESSERA_CLICKHOUSE_URL');
      const { config } = await loadCommandConfiguration(serveCommand, SERVE_FLAGS);
      if (opts.load !== undefined && (config.auth.enabled || config.tls.certFile !== undefined)) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          '--load is for the plaintext demo server; with --auth or TLS, load data with `tessera write` and a write key',
        );
      }
      const stop = listenForStop();
      const options = featureServerOptions(config);
      const { backend } = options;
      // Files the server creates (LMDB, chDB parts, key hashes) are readable by their owner only.
      process.umask(0o077);
      // Loaded here, not at the program's start: client commands never pay for pino and prom-client.
      const { configuredLogger, configuredMetrics, startConfiguredTracing } = await import('../observability.js');
      const logger = configuredLogger(config, 'tessera-server');
      const metrics = configuredMetrics(config, serveCommand);
      // Before the server: its spans need the provider from the first call on.
      const tracing = await startConfiguredTracing(config, 'tessera-server');
      const { startFeatureServer } = await import('@tessera/feature-server');
      const server = await startFeatureServer({
        ...options,
        logger,
        ...(metrics === undefined ? {} : { metrics }),
      }).catch(async (error: unknown) => {
        await tracing.shutdown();
        throw error;
      });
      const offlineServer =
        backend.offlineServer === undefined ? '' : `, offline store ${backend.offlineServer.address}`;
      const mode =
        (backend.kind === 'embedded' ? `embedded, data in ${backend.dataDir}` : `Redis Cluster ${nodeList(config)}`) +
        offlineServer;
      console.log(`tessera: serving on ${server.address} (${mode})`);
      if (server.localAddress !== undefined) {
        console.log(`tessera: serving this host on ${server.localAddress} (plaintext, no authentication)`);
      }
      if (server.feastPort !== undefined) {
        console.log(
          `tessera: Feast HTTP endpoints on http${server.tlsEnabled ? 's' : ''}://${config.feast.host}:${server.feastPort}`,
        );
      }
      if (server.metricsPort !== undefined) {
        console.log(`tessera: metrics on http://${config.metrics.host}:${server.metricsPort}/metrics`);
      }
      // A failed --apply or --load stops the server too: the command fails as a whole, never half-started.
      await prepare(server, opts, stop, hasOfflineStore(backend)).catch(async (error: unknown) => {
        await server.close();
        await tracing.shutdown();
        throw error;
      });
      await stop.received;
      console.log('tessera: shutting down');
      stop.bound(config.server.shutdownGraceMillis);
      await server.close();
      await tracing.shutdown();
    });
}

/** `--apply` then `--load`, on the running server. */
async function prepare(
  server: FeatureServer,
  opts: { apply?: string; load?: string },
  stop: StopSignal,
  hasOffline: boolean,
): Promise<void> {
  if (opts.apply && !stop.requested()) {
    const { loadRepository } = await import('../repo-files.js');
    const defs = await loadRepository(opts.apply);
    // In-process: works whatever the server demands of network clients (keys, client certificates).
    const result = await server.apply(defs, { author: 'tessera serve --apply' });
    console.log(`tessera: applied ${opts.apply} (${summarizeChanges(result.changes.map((ch) => ch.kind))})`);
  }
  if (opts.load && !stop.requested()) {
    const { writeFile } = await import('../write-file.js');
    const c = new TesseraClient({ address: server.address });
    try {
      // <view>.csv|jsonl: current values (online, and offline when there is an offline store);
      // history/<view>.csv|jsonl: past events, offline only (the history training sets use).
      const load = async (dir: string, target: 'both' | 'online' | 'offline') => {
        for (const name of (await readdir(dir)).sort()) {
          const match = /^(\w+)\.(csv|jsonl)$/.exec(name);
          if (!match) continue;
          const summary = await writeFile(c, match[1]!, join(dir, name), {
            batchRows: 5000,
            timestampColumn: DEFAULT_TIMESTAMP_COLUMN,
            // Sync: once loaded, the rows are in training sets too (no write-behind lag).
            durability: target === 'online' ? 'write-behind' : 'sync',
            target,
          });
          console.log(`tessera: ${summary}`);
        }
      };
      await load(opts.load, hasOffline ? 'both' : 'online');
      const history = join(opts.load, 'history');
      if (hasOffline && existsSync(history)) await load(history, 'offline');
      console.log(`tessera: loaded ${opts.load}`);
    } finally {
      c.close();
    }
  }
}

/** Whether the server writes offline (so --load also fills the offline store). */
function hasOfflineStore(backend: BackendOptions): boolean {
  return backend.kind === 'embedded' || backend.clickhouseUrl !== undefined || backend.offlineServer !== undefined;
}

function summarizeChanges(kinds: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'no changes';
}
