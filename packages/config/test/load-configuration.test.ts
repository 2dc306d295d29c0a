import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Problem } from '@tessera/core';
import {
  REDACTED,
  SETTINGS,
  configSchema,
  envName,
  isConfigurationError,
  loadConfiguration,
  printConfiguration,
  type LoadConfigurationOptions,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function configFile(text: string): string {
  const path = join(dir, `config-${fileCount++}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** The problems loadConfiguration reports, or a failure when it accepts the configuration. */
function problemsOf(options: LoadConfigurationOptions): readonly Problem[] {
  try {
    loadConfiguration(options);
  } catch (error) {
    if (isConfigurationError(error)) return error.details;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('loadConfiguration', () => {
  it('fills every default when nothing is configured', () => {
    const { config, sources } = loadConfiguration({ env: {} });
    expect(config).toEqual(configSchema.parse({}));
    expect(config.backend.kind).toBe('embedded');
    expect(config.limits.maxRefsPerRequest).toBe(1_000);
    expect(sources.size).toBe(0);
  });

  it('reports a bad file value, a bad variable and a bad flag in one run, each with its path and source', () => {
    const file = configFile('limits:\n  maxRefsPerRequest: -3\n');
    const problems = problemsOf({
      file,
      env: { TESSERA_TRACING_SAMPLE_RATIO: 'most' },
      flags: [{ flag: '--port', path: 'server.port', value: '70000' }],
    });
    expect(problems).toHaveLength(3);
    expect(problems).toContainEqual({
      file: 'flag --port',
      path: 'server.port',
      message: expect.stringContaining('65535') as string,
    });
    expect(problems).toContainEqual({
      file: 'env TESSERA_TRACING_SAMPLE_RATIO',
      path: 'tracing.sampleRatio',
      message: expect.stringContaining('"most"') as string,
    });
    expect(problems).toContainEqual({
      file: `file ${file}`,
      path: 'limits.maxRefsPerRequest',
      message: expect.stringContaining('-3') as string,
    });
  });

  it('answers expired values on the Feast endpoints as Feast does unless told otherwise, and names a bad mode', () => {
    expect(loadConfiguration({ env: {} }).config.feast.expired).toBe('serve-stale');
    expect(loadConfiguration({ env: { TESSERA_FEAST_EXPIRED: 'outside-max-age' } }).config.feast.expired).toBe(
      'outside-max-age',
    );
    const problems = problemsOf({ env: { TESSERA_FEAST_EXPIRED: 'never' } });
    expect(problems).toEqual([
      {
        file: 'env TESSERA_FEAST_EXPIRED',
        path: 'feast.expired',
        message: expect.stringMatching(/serve-stale.*outside-max-age/) as string,
      },
    ]);
  });

  it('takes flags over variables over the file over defaults', () => {
    const file = configFile('server:\n  port: 7001\n  host: 10.1.1.1\nlimits:\n  maxBatchRows: 111\n');
    const { config, sources } = loadConfiguration({
      file,
      env: { TESSERA_SERVER_PORT: '7002', TESSERA_LIMITS_MAX_BATCH_ROWS: '222' },
      flags: [{ flag: '--port', path: 'server.port', value: '7003' }],
    });
    expect(config.server.port).toBe(7003); // flag over env and file
    expect(config.limits.maxBatchRows).toBe(222); // env over file
    expect(config.server.host).toBe('10.1.1.1'); // file over default
    expect(config.limits.maxEntityRows).toBe(2_000_000); // default
    expect(sources.get('server.port')).toBe('flag --port');
    expect(sources.get('limits.maxBatchRows')).toBe('env TESSERA_LIMITS_MAX_BATCH_ROWS');
    expect(sources.get('server.host')).toBe(`file ${file}`);
  });

  it('names an unknown key of the file at its own path', () => {
    const file = configFile('limits:\n  maxBatchRow: 5\nlogging: {}\n');
    const problems = problemsOf({ file, env: {} });
    expect(problems.map((p) => p.path).sort()).toEqual(['limits.maxBatchRow', 'logging']);
    expect(problems.every((p) => p.message === 'unknown setting' && p.file === `file ${file}`)).toBe(true);
  });

  it('reports a file it cannot read and a file that is not YAML', () => {
    expect(problemsOf({ file: join(dir, 'missing.yaml'), env: {} })).toEqual([
      { file: `file ${join(dir, 'missing.yaml')}`, path: '', message: 'cannot be read (ENOENT)' },
    ]);
    const broken = configFile('server: [unclosed\n');
    expect(problemsOf({ file: broken, env: {} })[0]).toMatchObject({ file: `file ${broken}`, message: /not YAML/ });
    const list = configFile('- server\n');
    expect(problemsOf({ file: list, env: {} })[0]?.message).toMatch(/must be a mapping/);
  });

  it('reads Redis nodes from a variable and names the bad port of one', () => {
    const { config } = loadConfiguration({
      env: { TESSERA_BACKEND_KIND: 'redis-cluster', TESSERA_BACKEND_REDIS_NODES: '10.0.0.5:7000, 10.0.0.6:7001' },
    });
    expect(config.backend.redis.nodes).toEqual([
      { host: '10.0.0.5', port: 7000 },
      { host: '10.0.0.6', port: 7001 },
    ]);
    const problems = problemsOf({ env: { TESSERA_BACKEND_REDIS_NODES: '10.0.0.5:7000,10.0.0.6:x' } });
    expect(problems).toEqual([
      {
        file: 'env TESSERA_BACKEND_REDIS_NODES',
        path: 'backend.redis.nodes.1.port',
        message: expect.stringContaining('"x"') as string,
      },
    ]);
  });

  it('refuses a cluster backend without nodes and a TLS certificate without its key', () => {
    const problems = problemsOf({ env: { TESSERA_BACKEND_KIND: 'redis-cluster', TESSERA_TLS_CERT: 'server.pem' } });
    expect(problems.map((p) => `${p.file} ${p.path}`).sort()).toEqual([
      'env TESSERA_BACKEND_KIND backend.kind',
      'env TESSERA_TLS_CERT tls.certFile',
    ]);
  });

  it('refuses a secret given as a flag and names the variable to use instead', () => {
    const problems = problemsOf({
      env: {},
      flags: [
        { flag: '--redis-password', path: 'backend.redis.password', value: 'hunter2' },
        { flag: '--clickhouse-url', path: 'backend.clickhouseUrl', value: 'http://u:hunter2@ch:8123' },
      ],
    });
    expect(problems.map((p) => p.path)).toEqual(['backend.redis.password', 'backend.clickhouseUrl']);
    expect(problems[0]!.message).toContain('TESSERA_BACKEND_REDIS_PASSWORD');
    expect(JSON.stringify(problems)).not.toContain('hunter2');
  });

  it('never echoes a secret that fails validation', () => {
    const problems = problemsOf({ env: { TESSERA_CLICKHOUSE_URL: 'ftp://u:hunter2@ch' } });
    expect(problems.map((p) => p.path)).toEqual(['backend.clickhouseUrl']);
    expect(JSON.stringify(problems)).not.toContain('hunter2');
  });

  it('accepts the short variable names of earlier releases, the derived name winning over them', () => {
    const { config } = loadConfiguration({
      env: { TESSERA_AUTH: '1', TESSERA_TLS_CERT: 'a.pem', TESSERA_TLS_KEY: 'a.key', TESSERA_TLS_KEY_FILE: 'b.key' },
    });
    expect(config.auth.enabled).toBe(true);
    expect(config.tls).toMatchObject({ certFile: 'a.pem', keyFile: 'b.key' });
  });

  it('derives one distinct variable name per setting', () => {
    const names = SETTINGS.map((s) => envName(s.path));
    expect(new Set(names).size).toBe(names.length);
    expect(envName('limits.maxEventTimeSkewMillis')).toBe('TESSERA_LIMITS_MAX_EVENT_TIME_SKEW_MILLIS');
  });
});

describe('printConfiguration', () => {
  it('redacts the Redis password and the password of the ClickHouse URL, and keeps the rest', () => {
    const { config } = loadConfiguration({
      env: {
        TESSERA_BACKEND_REDIS_PASSWORD: 'redis-hunter2',
        TESSERA_CLICKHOUSE_URL: 'http://writer:ch-hunter2@10.0.0.7:8123/',
        TESSERA_BACKEND_REDIS_USERNAME: 'tessera',
      },
    });
    const text = printConfiguration(config);
    expect(text).not.toContain('hunter2');
    expect(text).toContain(`password: ${REDACTED}`);
    expect(text).toContain(`clickhouseUrl: http://writer:${REDACTED}@10.0.0.7:8123/`);
    expect(text).toContain('username: tessera');
  });

  it('prints YAML that loads back to the same configuration', () => {
    const { config } = loadConfiguration({ env: { TESSERA_LIMITS_MAX_BATCH_ROWS: '77', TESSERA_LOG_LEVEL: 'warn' } });
    const reloaded = loadConfiguration({ file: configFile(printConfiguration(config)), env: {} });
    expect(reloaded.config).toEqual(config);
  });
});

describe('backend.offlineServer', () => {
  it('takes its API key from TESSERA_OFFLINE_API_KEY, redacted when printed, and refused as a flag', () => {
    const { config } = loadConfiguration({
      env: { TESSERA_OFFLINE_API_KEY: 'tsk_secret' },
      flags: [{ flag: '--offline-server', path: 'backend.offlineServer.address', value: '127.0.0.1:6567' }],
    });
    expect(config.backend.offlineServer).toMatchObject({ address: '127.0.0.1:6567', apiKey: 'tsk_secret' });
    expect(printConfiguration(config)).not.toContain('tsk_secret');
    expect(
      problemsOf({ env: {}, flags: [{ flag: '--offline-key', path: 'backend.offlineServer.apiKey', value: 'tsk_x' }] }),
    ).toContainEqual(expect.objectContaining({ path: 'backend.offlineServer.apiKey' }));
  });

  it('refuses an offline server together with a ClickHouse URL, naming both', () => {
    const problems = problemsOf({
      file: configFile(
        'backend:\n  clickhouseUrl: http://127.0.0.1:8123\n  offlineServer: { address: 127.0.0.1:6567 }\n',
      ),
      env: {},
    });
    expect(problems).toEqual([
      expect.objectContaining({
        path: 'backend.offlineServer.address',
        message: expect.stringMatching(/clickhouseUrl.*offline server.*not both/) as string,
      }),
    ]);
  });
});
