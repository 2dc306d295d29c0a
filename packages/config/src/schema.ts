/**
 * The one deployment configuration of Tessera: every setting of the feature server and the writer,
 * typed and validated by one zod schema. Defaults here are the services' own defaults, so a
 * configuration that says nothing runs the embedded demo on loopback.
 */
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const port = z.number().int().min(0).max(65_535);

/** A Redis node, `{ host, port }`. */
export const redisNodeSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535),
});

/**
 * Where the deployment's Redis Cluster is and how every client authenticates to it. Timeouts and
 * retries stay with each client (@tessera/redis): they depend on its use (BullMQ workers block).
 */
export const redisSchema = z.strictObject({
  /** Seed nodes of the Redis Cluster (cluster mode). */
  nodes: z.array(redisNodeSchema).default([]),
  /** Prepended to every key, so several deployments share one cluster. */
  keyPrefix: z.string().default(''),
  username: z.string().min(1).optional(),
  /** Secret: from the environment or the file only, never a flag. */
  password: z.string().min(1).optional(),
  tls: z
    .strictObject({
      enabled: z.boolean().default(false),
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      serverName: z.string().min(1).optional(),
    })
    .prefault({}),
});

/**
 * A `tessera offline-server` as the offline store of servers and writers: the one process that owns
 * the deployment's chDB data directory, when there is no ClickHouse server. Used when `address` is set.
 */
export const offlineServerSchema = z.strictObject({
  /** `host:port` of the offline server. */
  address: z.string().min(1).optional(),
  /** Secret: an API key of the deployment with the admin scope, when the offline server checks keys. */
  apiKey: z.string().min(1).optional(),
  tls: z
    .strictObject({
      enabled: z.boolean().default(false),
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      serverName: z.string().min(1).optional(),
    })
    .prefault({}),
});

export const backendSchema = z
  .strictObject({
    /** `embedded` (LMDB + chDB in one folder) or `redis-cluster`. */
    kind: z.enum(['embedded', 'redis-cluster']).default('embedded'),
    /** Folder of the embedded stores. */
    dataDir: z.string().min(1).default('.tessera'),
    /** ClickHouse HTTP endpoint of the offline store. Secret when it carries a password. */
    clickhouseUrl: z.url({ protocol: /^https?$/ }).optional(),
    offlineServer: offlineServerSchema.prefault({}),
    redis: redisSchema.prefault({}),
    writeBehind: z
      .strictObject({
        /** Insert attempts before a dead letter. */
        attempts: positiveInt.optional(),
        /** First retry delay, doubled per attempt. */
        backoffMillis: positiveInt.optional(),
      })
      .prefault({}),
  })
  // Reported at `kind`: that is the value the user set (the node list is missing, so has no source).
  .refine((b) => b.kind !== 'redis-cluster' || b.redis.nodes.length > 0, {
    message: 'redis-cluster needs at least one node in backend.redis.nodes',
    path: ['kind'],
  })
  .refine((b) => b.clickhouseUrl === undefined || b.offlineServer.address === undefined, {
    message: 'one offline store: a ClickHouse server (backend.clickhouseUrl) or an offline server, not both',
    path: ['offlineServer', 'address'],
  });

export const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(6566),
  /** Allow a non-loopback host without auth and TLS. */
  insecure: z.boolean().default(false),
  /** A second, plaintext listener on 127.0.0.1 without authentication, for clients on this host or pod. */
  localPort: port.optional(),
  maxMessageBytes: positiveInt.default(64 * 1024 * 1024),
  maxConcurrentStreams: positiveInt.optional(),
  keepaliveTimeMillis: positiveInt.optional(),
  keepaliveTimeoutMillis: positiveInt.optional(),
  maxConnectionIdleMillis: positiveInt.optional(),
  healthCheckIntervalMillis: positiveInt.optional(),
  maxDrainLagMillis: positiveInt.optional(),
  shutdownGraceMillis: nonNegativeInt.default(10_000),
});

export const writerSchema = z.strictObject({
  /** Folder of the writer's embedded chDB store (no clickhouseUrl). */
  dataDir: z.string().min(1).default('.tessera/writer'),
  concurrency: positiveInt.default(4),
  lockMillis: positiveInt.default(30_000),
  shutdownGraceMillis: nonNegativeInt.default(10_000),
});

export const authSchema = z.strictObject({
  enabled: z.boolean().default(false),
  refreshIntervalMillis: positiveInt.optional(),
  rateLimit: z.strictObject({ requestsPerSecond: z.number().positive(), burst: positiveInt }).optional(),
});

export const tlsSchema = z
  .strictObject({
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    clientCaFile: z.string().min(1).optional(),
    reloadIntervalMillis: positiveInt.optional(),
  })
  // Reported at the one that is given, so the problem names where it came from.
  .superRefine((t, context) => {
    if ((t.certFile === undefined) === (t.keyFile === undefined)) return;
    context.addIssue({
      code: 'custom',
      message: 'certFile and keyFile go together',
      path: [t.certFile === undefined ? 'keyFile' : 'certFile'],
    });
  })
  .refine((t) => t.clientCaFile === undefined || t.certFile !== undefined, {
    message: 'clientCaFile (mTLS) needs certFile and keyFile',
    path: ['clientCaFile'],
  });

export const limitsSchema = z.strictObject({
  maxBatchRows: positiveInt.default(10_000),
  maxEntityRows: positiveInt.default(2_000_000),
  maxEntitySetRows: positiveInt.default(10_000_000),
  maxRefsPerRequest: positiveInt.default(1_000),
  maxEventTimeSkewMillis: nonNegativeInt.default(86_400_000),
  lanes: z.strictObject({ historical: positiveInt.default(4), materialize: positiveInt.default(2) }).prefault({}),
});

export const tracingSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** OTLP/HTTP endpoint of a collector or Jaeger. */
  otlpEndpoint: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:4318'),
  /** Share of root traces sampled (parent-based), 0..1. */
  sampleRatio: z.number().min(0).max(1).default(1),
  serviceName: z.string().min(1).optional(),
});

export const metricsSchema = z.strictObject({
  enabled: z.boolean().default(false),
  host: z.string().min(1).default('127.0.0.1'),
  /** Port of the /metrics HTTP server; 0 = any free port. */
  port: port.default(9464),
});

/** How the Feast endpoints answer a value older than its view's TTL (see `feast.expired`). */
export const FEAST_EXPIRED_MODES = ['serve-stale', 'outside-max-age'] as const;

/**
 * Feast's HTTP feature-server endpoints on the feature server (`/get-online-features`, `/push`,
 * `/write-to-online-store`, `/health`), for Feast SDKs with `online_store: {type: remote}`.
 */
export const feastSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Same exposure rule as the gRPC port: only loopback without auth and TLS. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 = any free port. Feast's own default, 6566, is Tessera's gRPC port; 6567 is the offline server's. */
  port: port.default(6568),
  /** Largest request body, bytes (HTTP 413 beyond). */
  maxBodyBytes: positiveInt.default(16 * 1024 * 1024),
  /**
   * A value older than its view's TTL on `/get-online-features`: `serve-stale` answers it as Feast's
   * Python feature server does (the value, PRESENT: Feast's online read ignores the TTL);
   * `outside-max-age` answers as Tessera's gRPC API and Feast's Go feature server do (OUTSIDE_MAX_AGE,
   * no value), which is what a Feast training set holds for it.
   */
  expired: z.enum(FEAST_EXPIRED_MODES).default('serve-stale'),
});

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const logSchema = z.strictObject({ level: z.enum(LOG_LEVELS).default('info') });

/** The whole deployment configuration. */
export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  backend: backendSchema.prefault({}),
  writer: writerSchema.prefault({}),
  auth: authSchema.prefault({}),
  tls: tlsSchema.prefault({}),
  limits: limitsSchema.prefault({}),
  tracing: tracingSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
  feast: feastSchema.prefault({}),
  log: logSchema.prefault({}),
});

/** A validated configuration, every default filled in. */
export type TesseraConfig = z.infer<typeof configSchema>;
