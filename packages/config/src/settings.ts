/**
 * The settings that come from the environment, with how their text becomes a value. The variable
 * of `limits.maxBatchRows` is `TESSERA_LIMITS_MAX_BATCH_ROWS`: `TESSERA_`, then the path in
 * upper snake case. A few settings also answer to the short names the CLI used before the
 * configuration existed (`TESSERA_CLICKHOUSE_URL`, `TESSERA_AUTH`, `TESSERA_TLS_CERT`, ...).
 */

/** How a setting's text (environment, flag) becomes a value. */
export type SettingKind = 'string' | 'integer' | 'number' | 'boolean' | 'nodes';

/** One setting reachable from the environment. */
export interface Setting {
  /** Dotted path in the configuration, e.g. `limits.maxBatchRows`. */
  readonly path: string;
  readonly kind: SettingKind;
  /** A secret: redacted by `config print`, refused on the command line. */
  readonly secret?: boolean;
  /** Older variable names that still work; the derived name wins when both are set. */
  readonly aliases?: readonly string[];
}

const s = (path: string, kind: SettingKind, extra: Omit<Setting, 'path' | 'kind'> = {}): Setting => ({
  path,
  kind,
  ...extra,
});

/** Every setting of the configuration that is a scalar or a node list. */
export const SETTINGS: readonly Setting[] = [
  s('server.host', 'string'),
  s('server.port', 'integer'),
  s('server.insecure', 'boolean'),
  s('server.localPort', 'integer'),
  s('server.maxMessageBytes', 'integer'),
  s('server.maxConcurrentStreams', 'integer'),
  s('server.keepaliveTimeMillis', 'integer'),
  s('server.keepaliveTimeoutMillis', 'integer'),
  s('server.maxConnectionIdleMillis', 'integer'),
  s('server.healthCheckIntervalMillis', 'integer'),
  s('server.maxDrainLagMillis', 'integer'),
  s('server.shutdownGraceMillis', 'integer'),
  s('backend.kind', 'string'),
  s('backend.dataDir', 'string'),
  s('backend.clickhouseUrl', 'string', { secret: true, aliases: ['TESSERA_CLICKHOUSE_URL'] }),
  s('backend.offlineServer.address', 'string'),
  s('backend.offlineServer.apiKey', 'string', { secret: true, aliases: ['TESSERA_OFFLINE_API_KEY'] }),
  s('backend.offlineServer.tls.enabled', 'boolean'),
  s('backend.offlineServer.tls.caFile', 'string'),
  s('backend.offlineServer.tls.certFile', 'string'),
  s('backend.offlineServer.tls.keyFile', 'string'),
  s('backend.offlineServer.tls.serverName', 'string'),
  s('backend.redis.nodes', 'nodes'),
  s('backend.redis.keyPrefix', 'string'),
  s('backend.redis.username', 'string'),
  s('backend.redis.password', 'string', { secret: true }),
  s('backend.redis.tls.enabled', 'boolean'),
  s('backend.redis.tls.caFile', 'string'),
  s('backend.redis.tls.certFile', 'string'),
  s('backend.redis.tls.keyFile', 'string'),
  s('backend.redis.tls.serverName', 'string'),
  s('backend.writeBehind.attempts', 'integer'),
  s('backend.writeBehind.backoffMillis', 'integer'),
  s('writer.dataDir', 'string'),
  s('writer.concurrency', 'integer'),
  s('writer.lockMillis', 'integer'),
  s('writer.shutdownGraceMillis', 'integer'),
  s('auth.enabled', 'boolean', { aliases: ['TESSERA_AUTH'] }),
  s('auth.refreshIntervalMillis', 'integer'),
  s('auth.rateLimit.requestsPerSecond', 'number'),
  s('auth.rateLimit.burst', 'integer'),
  s('tls.certFile', 'string', { aliases: ['TESSERA_TLS_CERT'] }),
  s('tls.keyFile', 'string', { aliases: ['TESSERA_TLS_KEY'] }),
  s('tls.clientCaFile', 'string', { aliases: ['TESSERA_TLS_CLIENT_CA'] }),
  s('tls.reloadIntervalMillis', 'integer'),
  s('limits.maxBatchRows', 'integer'),
  s('limits.maxEntityRows', 'integer'),
  s('limits.maxEntitySetRows', 'integer'),
  s('limits.maxRefsPerRequest', 'integer'),
  s('limits.maxEventTimeSkewMillis', 'integer'),
  s('limits.lanes.historical', 'integer'),
  s('limits.lanes.materialize', 'integer'),
  s('tracing.enabled', 'boolean'),
  s('tracing.otlpEndpoint', 'string'),
  s('tracing.sampleRatio', 'number'),
  s('tracing.serviceName', 'string'),
  s('metrics.enabled', 'boolean'),
  s('metrics.host', 'string'),
  s('metrics.port', 'integer'),
  s('feast.enabled', 'boolean'),
  s('feast.host', 'string'),
  s('feast.port', 'integer'),
  s('feast.maxBodyBytes', 'integer'),
  s('feast.expired', 'string'),
  s('log.level', 'string'),
];

/** `limits.maxBatchRows` → `TESSERA_LIMITS_MAX_BATCH_ROWS`. */
export function envName(path: string): string {
  return `TESSERA_${path
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/\./g, '_')
    .toUpperCase()}`;
}

/** The setting at `path`, if any. */
export function settingAt(path: string): Setting | undefined {
  return SETTINGS.find((setting) => setting.path === path);
}

/**
 * A setting's text as a value: numbers and booleans when the text is one, `host:port,...` as nodes;
 * anything else stays text, so the schema reports it with the setting's path and source.
 */
export function parseSettingText(kind: SettingKind, text: string): unknown {
  const trimmed = text.trim();
  switch (kind) {
    case 'string':
      return text;
    case 'integer':
    case 'number':
      return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : text;
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(trimmed)) return true;
      if (/^(false|0|no|off)$/i.test(trimmed)) return false;
      return text;
    case 'nodes':
      return trimmed === ''
        ? []
        : trimmed.split(',').map((entry) => {
            const colon = entry.lastIndexOf(':');
            const host = colon < 0 ? entry.trim() : entry.slice(0, colon).trim();
            const port = colon < 0 ? '' : entry.slice(colon + 1).trim();
            return { host, port: /^\d+$/.test(port) ? Number(port) : port };
          });
  }
}
