/**
 * What every Redis client of Tessera is built from: where the nodes are, how to authenticate and
 * encrypt, and how long to wait. One place for these, so a deployment's credentials and timeouts
 * reach every component the same way.
 */

/** One Redis node (a cluster seed or the standalone server). */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** TLS towards Redis. Files are PEM; without `caFile` the system CAs are trusted. */
export interface RedisTlsOptions {
  /** CA that signed the servers' certificates. */
  readonly caFile?: string;
  /** Client certificate, when the servers require one (`tls-auth-clients yes`). */
  readonly certFile?: string;
  /** Its private key. */
  readonly keyFile?: string;
  /** Name checked against the servers' certificates. Default: each node's host. */
  readonly serverName?: string;
}

/** Settings a deployment gives once, shared by every Redis client it builds. */
export interface RedisClientSettings {
  /** ACL user (Redis 6+). Default: the `default` user. */
  readonly username?: string;
  /** Password of that user (or `requirepass`). Default: none. */
  readonly password?: string;
  /** Encrypt every connection. Default: plaintext. */
  readonly tls?: RedisTlsOptions;
  /** How long opening a connection may take, ms. Default 10,000 (ioredis' own). */
  readonly connectTimeoutMillis?: number;
  /** How long one command may take before it fails, ms; 0 = no limit. Default 0. */
  readonly commandTimeoutMillis?: number;
  /** Times a command is resent after its connection dropped; null = until it succeeds (BullMQ workers need that). Default 20. */
  readonly maxRetriesPerRequest?: number | null;
  /** Reconnection delay grows by this per attempt, ms. Default 50. */
  readonly reconnectStepMillis?: number;
  /** ... up to this, ms. Default 2,000. */
  readonly maxReconnectDelayMillis?: number;
}

/** Everything one client needs: the shared settings, its nodes, and what is particular to its use. */
export interface RedisConnectionOptions extends RedisClientSettings {
  /** A Redis Cluster (the nodes are seeds) or one standalone server (the first node). Default 'cluster'. */
  readonly mode?: 'cluster' | 'standalone';
  readonly nodes: readonly RedisNode[];
  /**
   * Queue commands while disconnected (true) or fail them at once (false), so a caller answers
   * UNAVAILABLE instead of waiting. Default true.
   */
  readonly enableOfflineQueue?: boolean;
  /** Cluster only: how long refreshing the slot table may take, ms. Default 1,000 (ioredis' own). */
  readonly slotsRefreshTimeoutMillis?: number;
  /** Cluster only: where reads go. Default 'master' (reads see the writes before them). */
  readonly scaleReads?: 'master' | 'slave' | 'all';
  /**
   * Receives connection errors. Without a listener an 'error' event ends the process, so the factory
   * always installs one; the default drops them (the failed commands report them).
   */
  readonly onError?: (error: unknown) => void;
}

/** Defaults of {@link RedisClientSettings}, named so documentation and code agree. */
export const REDIS_DEFAULTS = {
  connectTimeoutMillis: 10_000,
  commandTimeoutMillis: 0,
  maxRetriesPerRequest: 20,
  reconnectStepMillis: 50,
  maxReconnectDelayMillis: 2_000,
  slotsRefreshTimeoutMillis: 1_000,
} as const;
