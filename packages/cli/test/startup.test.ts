import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// Client commands load only what they use: the services, their stores and the configuration schema
// load for `serve`, `writer`, `offline-server`, `keys` on a store and `config` alone. Every module a
// command resolves is recorded by a resolve hook, so a static import that drags them back fails here.

const BIN = join(import.meta.dirname, '..', 'bin', 'tessera.js');
const HOOK = join(import.meta.dirname, 'fixtures', 'record-imports.mjs');
const dir = mkdtempSync(join(tmpdir(), 'tessera-startup-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `tessera <args>` resolved (package names and Tessera packages), and its exit code. */
async function loadedBy(
  name: string,
  args: readonly string[],
): Promise<{ code: number; stderr: string; packages: Set<string> }> {
  const file = join(dir, `${name}.txt`);
  let code = 0;
  let stderr = '';
  await promisify(execFile)('node', ['--import', HOOK, BIN, ...args], {
    env: { ...process.env, TESSERA_RECORD_IMPORTS: file },
    timeout: 60_000,
  }).catch((error: { code?: number; stderr?: string }) => {
    code = typeof error.code === 'number' ? error.code : 1;
    stderr = error.stderr ?? '';
  });
  const packages = new Set<string>();
  for (const url of readFileSync(file, 'utf8').split('\n')) {
    const pnpm = /node_modules\/\.pnpm\/((?:@[^+]+\+)?[^@/]+)@/.exec(url);
    if (pnpm) packages.add(pnpm[1]!.replace('+', '/'));
    const own = /\/(packages|services)\/([^/]+)\//.exec(url);
    if (own && !url.includes('node_modules')) packages.add(`@tessera/${own[2]}`);
  }
  return { code, stderr, packages };
}

/** Loaded only by the services, the key store and the configuration (or for training sets and files). */
const HEAVY = [
  '@tessera/feature-server',
  '@tessera/writer',
  '@tessera/registry',
  '@tessera/online',
  '@tessera/offline',
  '@tessera/telemetry',
  '@tessera/config',
  'ioredis',
  'lmdb',
  'bullmq',
  'zod',
  'pino',
  'prom-client',
  'csv-parse',
  'parquet-wasm',
];

describe('tessera start-up', () => {
  it('loads none of the services, stores or the configuration schema for --help', async () => {
    const { code, packages } = await loadedBy('help', ['--help']);
    expect(code).toBe(0);
    expect(packages.has('commander')).toBe(true);
    expect(HEAVY.filter((p) => packages.has(p))).toEqual([]);
  });

  it('loads the client, and none of them, for get', async () => {
    // Nothing listens on port 1: the command fails at its first call, after loading what it needs.
    const { code, stderr, packages } = await loadedBy('get', [
      '--server',
      '127.0.0.1:1',
      '--timeout',
      '2000',
      'get',
      'customer_stats:loyalty_score',
      '--entity',
      'customer_id=1',
    ]);
    expect([code, stderr]).toEqual([1, expect.stringContaining('UNAVAILABLE') as string]);
    expect(packages.has('@tessera/client')).toBe(true);
    expect(HEAVY.filter((p) => packages.has(p))).toEqual([]);
  });

  it('loads the configuration schema when a command reads the configuration', async () => {
    const { code, packages } = await loadedBy('config', ['config', 'print']);
    expect(code).toBe(0);
    expect(packages.has('@tessera/config')).toBe(true);
  });
});
