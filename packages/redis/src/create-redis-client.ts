import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis } from 'ioredis';
import { TesseraError } from '@tessera/core';
import { REDIS_DEFAULTS, type RedisConnectionOptions, type RedisTlsOptions } from './connection-options.js';

/**
 * A Redis Cluster client built from `options` (see {@link RedisConnectionOptions} for each default).
 * Throws INVALID_ARGUMENT without nodes, or when a TLS file cannot be read.
 */
export function createRedisCluster(options: RedisConnectionOptions): Cluster {
  const nodes = seedNodes(options);
  const cluster = new Cluster(nodes, {
    enableOfflineQueue: options.enableOfflineQueue ?? true,
    clusterRetryStrategy: reconnectDelay(options),
    slotsRefreshTimeout: options.slotsRefreshTimeoutMillis ?? REDIS_DEFAULTS.slotsRefreshTimeoutMillis,
    scaleReads: options.scaleReads ?? 'master',
    redisOptions: nodeOptions(options),
    // Behind TLS the certificates name hosts, not the addresses CLUSTER SLOTS reports: keep the
    // names so verification works.
    ...(options.tls === undefined ? {} : { dnsLookup: (address, callback) => callback(null, address) }),
  });
  cluster.on('error', options.onError ?? ignore);
  return cluster;
}

/** A client of one standalone Redis server (the first of `options.nodes`). */
export function createRedisStandalone(options: RedisConnectionOptions): Redis {
  const [node] = seedNodes(options);
  const client = new Redis({
    ...nodeOptions(options),
    host: node!.host,
    port: node!.port,
    enableOfflineQueue: options.enableOfflineQueue ?? true,
    retryStrategy: reconnectDelay(options),
  });
  client.on('error', options.onError ?? ignore);
  return client;
}

/** A cluster or standalone client, as `options.mode` says (default cluster). */
export function createRedisClient(options: RedisConnectionOptions): Cluster | Redis {
  return options.mode === 'standalone' ? createRedisStandalone(options) : createRedisCluster(options);
}

function ignore(): void {}

function seedNodes(options: RedisConnectionOptions): { host: string; port: number }[] {
  if (options.nodes.length === 0)
    throw new TesseraError('INVALID_ARGUMENT', 'a Redis connection needs at least one node');
  return options.nodes.map(({ host, port }) => ({ host, port }));
}

function reconnectDelay(options: RedisConnectionOptions): (times: number) => number {
  const step = options.reconnectStepMillis ?? REDIS_DEFAULTS.reconnectStepMillis;
  const max = options.maxReconnectDelayMillis ?? REDIS_DEFAULTS.maxReconnectDelayMillis;
  return (times) => Math.min(step * times, max);
}

/** The ioredis options every node connection shares (a cluster passes them to each of its nodes). */
interface NodeOptions {
  connectTimeout: number;
  commandTimeout?: number;
  maxRetriesPerRequest: number | null;
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
}

function nodeOptions(options: RedisConnectionOptions): NodeOptions {
  const commandTimeoutMillis = options.commandTimeoutMillis ?? REDIS_DEFAULTS.commandTimeoutMillis;
  return {
    connectTimeout: options.connectTimeoutMillis ?? REDIS_DEFAULTS.connectTimeoutMillis,
    // ioredis reads 0 as "time out at once", so 0 here means no per-command timeout at all.
    ...(commandTimeoutMillis > 0 ? { commandTimeout: commandTimeoutMillis } : {}),
    maxRetriesPerRequest:
      options.maxRetriesPerRequest === undefined ? REDIS_DEFAULTS.maxRetriesPerRequest : options.maxRetriesPerRequest,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.tls === undefined ? {} : { tls: tlsOptions(options.tls) }),
  };
}

function tlsOptions(tls: RedisTlsOptions): ConnectionOptions {
  return {
    ...(tls.caFile === undefined ? {} : { ca: readPem(tls.caFile, 'CA certificate') }),
    ...(tls.certFile === undefined ? {} : { cert: readPem(tls.certFile, 'client certificate') }),
    ...(tls.keyFile === undefined ? {} : { key: readPem(tls.keyFile, 'client key') }),
    ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
  };
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Redis TLS ${what} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}
