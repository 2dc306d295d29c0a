import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// Client commands load only what they use: the services, their stores and the configuration schema
// load for `serve`, `writer`, `offline-server`, `keys` on a store and `config` alone. Every module a
// command resolves is recorded by a resolve hook, so a static import that drags them back fails here.

const BIN = join(import.meta.dirname, '..', 'bin', 'tessera.js');
const HOOK = join(import.meta.dirname, 'fixtures', 'record-imports.mjs');
const dir = mkdtempSync(join(tmpdir(), 'tessera-startup-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `tessera <args>` loaded: package names (Tessera's too), files, and its exit code. */
async function loadedBy(
  name: string,
  args: readonly string[],
): Promise<{ code: number; stderr: string; packages: Set<string>; files: Set<string> }> {
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
  const files = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '' || line.startsWith('node:') || line.startsWith('data:')) continue;
    const path = line.startsWith('file:') ? fileURLToPath(line) : line;
    // The recorder itself is not the program's.
    if (path === HOOK) continue;
    files.add(path);
    const pnpm = /node_modules\/\.pnpm\/((?:@[^+]+\+)?[^@/]+)@/.exec(path);
    if (pnpm) packages.add(pnpm[1]!.replace('+', '/'));
    const own = /\/(packages|services)\/([^/]+)\//.exec(path);
    if (own && !path.includes('node_modules')) packages.add(`@tessera/${own[2]}`);
  }
  return { code, stderr, packages, files };
}

/** Files loaded per package, largest first: what a failed bound prints. */
function filesByPackage(files: ReadonlySet<string>): string {
  const counts = new Map<string, number>();
  for (const path of files) {
    const pnpm = /node_modules\/\.pnpm\/([^/]+)\//.exec(path);
    const own = /\/(packages|services)\/([^/]+)\//.exec(path);
    const key = pnpm ? pnpm[1]! : own ? `@tessera/${own[2]}` : path;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${n} ${key}`)
    .join(', ');
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

/**
 * Not for the client commands either: the definitions language (YAML) and CEL load with core's full
 * entry point (they use `@tessera/core/basics`), Arrow for training sets and files, the
 * OpenTelemetry API once a process registers an SDK.
 */
const NOT_FOR_CLIENT_COMMANDS = ['yaml', '@marcbachmann/cel-js', 'apache-arrow', '@opentelemetry/api'];
const CORE_FULL_ENTRY = join('packages', 'core', 'dist', 'index.js');

/**
 * Files (ES and CommonJS modules) `tessera get` may load: 150 today, of which grpc-js is 65. Before
 * core's basics entry point and the lazy Arrow and OpenTelemetry it was over 400. Raise it only for a
 * reason the start-up time can afford (bench/cli-startup.ts measures it).
 */
const MAX_FILES_FOR_GET = 180;

/** Nothing listens on port 1: a client command fails at its first call, after loading what it needs. */
const UNREACHABLE = ['--server', '127.0.0.1:1', '--timeout', '2000'];

describe('tessera start-up', () => {
  it('loads none of the services, stores, configuration schema or definitions parser for --help', async () => {
    const { code, packages, files } = await loadedBy('help', ['--help']);
    expect(code).toBe(0);
    expect(packages.has('commander')).toBe(true);
    expect([...HEAVY, ...NOT_FOR_CLIENT_COMMANDS].filter((p) => packages.has(p))).toEqual([]);
    expect([...files].filter((f) => f.endsWith(CORE_FULL_ENTRY))).toEqual([]);
  });

  it(`loads the client, none of them, and at most ${MAX_FILES_FOR_GET} files for get`, async () => {
    const { code, stderr, packages, files } = await loadedBy('get', [
      ...UNREACHABLE,
      'get',
      'customer_stats:loyalty_score',
      '--entity',
      'customer_id=1',
    ]);
    expect([code, stderr]).toEqual([1, expect.stringContaining('UNAVAILABLE') as string]);
    expect(packages.has('@tessera/client')).toBe(true);
    expect(packages.has('@grpc/grpc-js')).toBe(true);
    expect([...HEAVY, ...NOT_FOR_CLIENT_COMMANDS].filter((p) => packages.has(p))).toEqual([]);
    expect([...files].filter((f) => f.endsWith(CORE_FULL_ENTRY))).toEqual([]);
    expect(files.size, filesByPackage(files)).toBeLessThanOrEqual(MAX_FILES_FOR_GET);
  });

  it('loads the client and none of them for ls', async () => {
    const { code, stderr, packages, files } = await loadedBy('ls', [...UNREACHABLE, 'ls']);
    expect([code, stderr]).toEqual([1, expect.stringContaining('UNAVAILABLE') as string]);
    expect(packages.has('@tessera/client')).toBe(true);
    expect([...HEAVY, ...NOT_FOR_CLIENT_COMMANDS].filter((p) => packages.has(p))).toEqual([]);
    expect([...files].filter((f) => f.endsWith(CORE_FULL_ENTRY))).toEqual([]);
  });

  it('loads the definitions parser when a command reads a feature repository', async () => {
    // apply reads and validates the repository before its first call, so port 1 is never reached.
    const repo = join(dir, 'bad-repo');
    mkdirSync(repo);
    writeFileSync(join(repo, 'project.yaml'), 'project: [not a name\n');
    const { code, packages } = await loadedBy('apply', [...UNREACHABLE, 'apply', repo]);
    expect(code).toBe(1);
    expect(packages.has('yaml')).toBe(true);
  });

  it('loads the configuration schema when a command reads the configuration', async () => {
    const { code, packages } = await loadedBy('config', ['config', 'print']);
    expect(code).toBe(0);
    expect(packages.has('@tessera/config')).toBe(true);
  });
});
