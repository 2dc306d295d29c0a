import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli } from '@tessera/testkit';

const CLI = join(import.meta.dirname, '..', 'bin', 'tessera.js');
const dir = mkdtempSync(join(tmpdir(), 'tessera-config-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `tessera args` with only `env` of the TESSERA_* variables set. */
function tessera(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TESSERA_')));
  return new Promise((resolve) => {
    execFile('node', [CLI, ...args], { env: { ...clean, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('tessera config print', () => {
  it('reports a bad file value, a bad variable and a bad flag in one run with their paths, exit 2', async () => {
    const config = file('bad.yaml', 'limits:\n  lanes:\n    historical: 0\n');
    const result = await tessera(['config', 'print', '--config', config, '--max-batch-rows', 'many'], {
      TESSERA_METRICS_PORT: '99999',
    });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toBe('tessera: invalid configuration: 3 problems');
    expect(lines).toContainEqual(expect.stringMatching(/^flag --max-batch-rows: limits\.maxBatchRows: .*"many"/));
    expect(lines).toContainEqual(expect.stringMatching(/^env TESSERA_METRICS_PORT: metrics\.port: .*65535/));
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^file ${config}: limits\\.lanes\\.historical: .*0`)),
    );
  });

  it('prints the effective configuration with the secrets redacted', async () => {
    const result = await tessera(['config', 'print'], {
      TESSERA_BACKEND_REDIS_PASSWORD: 'redis-hunter2',
      TESSERA_CLICKHOUSE_URL: 'http://writer:ch-hunter2@10.0.0.7:8123',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('hunter2');
    expect(result.stdout).toContain('password: <redacted>');
    expect(result.stdout).toContain('clickhouseUrl: http://writer:<redacted>@10.0.0.7:8123/');
  });

  it('takes a flag over a variable over the file over the default', async () => {
    const config = file('precedence.yaml', 'server:\n  port: 7001\n  host: 10.1.1.1\nlimits:\n  maxBatchRows: 111\n');
    const result = await tessera(['config', 'print', '--config', config, '--port', '7003'], {
      TESSERA_SERVER_PORT: '7002',
      TESSERA_LIMITS_MAX_BATCH_ROWS: '222',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ {2}port: 7003$/m);
    expect(result.stdout).toMatch(/^ {2}maxBatchRows: 222$/m);
    expect(result.stdout).toMatch(/^ {2}host: 10\.1\.1\.1$/m);
    expect(result.stdout).toMatch(/^ {2}maxEntityRows: 2000000$/m);
  });

  it('refuses a ClickHouse password among the flags without echoing it', async () => {
    const result = await tessera(['config', 'print', '--clickhouse-url', 'http://u:hunter2@ch:8123']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/flag --clickhouse-url: backend\.clickhouseUrl: .*TESSERA_BACKEND_CLICKHOUSE_URL/);
    expect(result.stderr).not.toContain('hunter2');
  });
});

describe('tessera serve --config', () => {
  it('serves with the port and data directory of the file', async () => {
    const dataDir = join(dir, 'from-file');
    const config = file('serve.yaml', `server:\n  port: 0\nbackend:\n  dataDir: ${dataDir}\n`);
    const serve = startCli(['serve', '--config', config]);
    try {
      const [, address] = await serve.waitFor(/serving on (\S+) \(embedded, data in (\S+)\)/);
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(address).not.toBe('127.0.0.1:6566');
      expect(serve.output()).toContain(`data in ${dataDir})`);
      expect(existsSync(join(dataDir, 'online'))).toBe(true);
    } finally {
      await serve.stop('SIGTERM');
    }
  });

  it('refuses to start with a bad configuration, exit 2', async () => {
    const result = await tessera(['serve', '--port', '0'], { TESSERA_LIMITS_MAX_REFS_PER_REQUEST: '0' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/env TESSERA_LIMITS_MAX_REFS_PER_REQUEST: limits\.maxRefsPerRequest: /);
  });
});
