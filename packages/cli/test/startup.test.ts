import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// Client commands load only what they use: the services, their stores and the configuration schema
// load for `serve`, `writer`, `offline-server`, `keys` on a store and `config` alone. Every module a
// command loads is recorded (ES modules by a resolve hook, CommonJS from the require cache), and a
// file of the bundle (scripts/bundle-cli.mjs) stands for the modules esbuild put in it, so a static
// import that drags them back fails here — in the bundle bin/tessera.js runs and in the compiled
// modules it falls back to.

const PACKAGE_DIR = join(import.meta.dirname, '..');
const REPO_ROOT = join(PACKAGE_DIR, '..', '..');
const BIN = join(PACKAGE_DIR, 'bin', 'tessera.js');
const COMPILED = join(import.meta.dirname, 'fixtures', 'run-compiled.mjs');
const HOOK = join(import.meta.dirname, 'fixtures', 'record-imports.mjs');
const BUNDLE_DIR = join(PACKAGE_DIR, 'dist', 'bundle');
const dir = mkdtempSync(join(tmpdir(), 'tessera-startup-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Modules in each output file of the bundle (absolute path → paths from the repository root). */
function bundleInputs(): Map<string, string[]> {
  const meta = JSON.parse(readFileSync(join(BUNDLE_DIR, 'meta.json'), 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  return new Map(Object.entries(meta.outputs).map(([out, o]) => [join(REPO_ROOT, out), Object.keys(o.inputs)]));
}

/** The package a module file belongs to (a Tessera package by its folder), or undefined. */
function packageOf(path: string): string | undefined {
  const pnpm = /node_modules\/\.pnpm\/((?:@[^+]+\+)?[^@/]+)@/.exec(path);
  if (pnpm) return pnpm[1]!.replace('+', '/');
  const own = /(?:^|\/)(packages|services)\/([^/]+)\//.exec(path);
  return own && !path.includes('node_modules') ? `@tessera/${own[2]}` : undefined;
}

interface Loaded {
  readonly code: number;
  readonly stderr: string;
  /** Packages whose code the command loaded, bundled or not. */
  readonly packages: Set<string>;
  /** Files it read as modules. */
  readonly files: Set<string>;
  /** Modules it loaded, from files or inside the bundle's files. */
  readonly modules: Set<string>;
}

/** What `tessera <args>` loaded when started from `entry` (bin/tessera.js or the compiled modules). */
async function loadedBy(name: string, args: readonly string[], entry = BIN): Promise<Loaded> {
  const file = join(dir, `${name}.txt`);
  let code = 0;
  let stderr = '';
  await promisify(execFile)('node', ['--import', HOOK, entry, ...args], {
    env: { ...process.env, TESSERA_RECORD_IMPORTS: file },
    timeout: 60_000,
  }).catch((error: { code?: number; stderr?: string }) => {
    code = typeof error.code === 'number' ? error.code : 1;
    stderr = error.stderr ?? '';
  });
  const inputs = bundleInputs();
  const files = new Set<string>();
  const modules = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '' || line.startsWith('node:') || line.startsWith('data:')) continue;
    const path = line.startsWith('file:') ? fileURLToPath(line) : line;
    // The recorder and the fixture are not the program's.
    if (path === HOOK || path === COMPILED) continue;
    files.add(path);
    for (const module of inputs.get(path) ?? [path]) modules.add(module);
  }
  const packages = new Set([...modules].map(packageOf).filter((p): p is string => p !== undefined));
  return { code, stderr, packages, files, modules };
}

/** Count per package, largest first: what a failed bound prints. */
function countByPackage(paths: ReadonlySet<string>): string {
  const counts = new Map<string, number>();
  for (const path of paths) {
    const key = packageOf(path) ?? path;
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
const forbidden = (loaded: Loaded): string[] => [
  ...[...HEAVY, ...NOT_FOR_CLIENT_COMMANDS].filter((p) => loaded.packages.has(p)),
  ...[...loaded.modules].filter((m) => m.endsWith(CORE_FULL_ENTRY)),
];

/**
 * Files `tessera get` reads as modules from the bundle: today its entry and two chunks. Anything the
 * bundle leaves outside (scripts/bundle-cli.mjs BUNDLED) loads file by file and shows here.
 */
const MAX_BUNDLE_FILES_FOR_GET = 10;
/**
 * Modules `tessera get` loads from the compiled modules: 150 today, of which grpc-js is 65. Before
 * core's basics entry point and the lazy Arrow and OpenTelemetry it was 489. Raise either bound
 * only for a reason the start-up time can afford (bench/cli-startup.ts measures it).
 */
const MAX_MODULES_FOR_GET = 180;

/** Nothing listens on port 1: a client command fails at its first call, after loading what it needs. */
const UNREACHABLE = ['--server', '127.0.0.1:1', '--timeout', '2000'];
const GET = [...UNREACHABLE, 'get', 'customer_stats:loyalty_score', '--entity', 'customer_id=1'];

describe('tessera start-up', () => {
  it('loads none of the services, stores, configuration schema or definitions parser for --help', async () => {
    const loaded = await loadedBy('help', ['--help']);
    expect(loaded.code).toBe(0);
    expect(loaded.packages.has('commander')).toBe(true);
    expect(forbidden(loaded)).toEqual([]);
  });

  it(`runs get from the bundle: the client and none of them, in at most ${MAX_BUNDLE_FILES_FOR_GET} files`, async () => {
    const loaded = await loadedBy('get', GET);
    expect([loaded.code, loaded.stderr]).toEqual([1, expect.stringContaining('UNAVAILABLE') as string]);
    expect(
      loaded.files.has(join(BUNDLE_DIR, 'index.js')),
      'bin/tessera.js runs the bundle after `npm run build` (a `tsc -b` alone leaves it older)',
    ).toBe(true);
    expect(loaded.packages.has('@tessera/client')).toBe(true);
    expect(loaded.packages.has('@grpc/grpc-js')).toBe(true);
    expect(forbidden(loaded)).toEqual([]);
    expect(loaded.files.size, countByPackage(loaded.files)).toBeLessThanOrEqual(MAX_BUNDLE_FILES_FOR_GET);
  });

  it(`loads the same, in at most ${MAX_MODULES_FOR_GET} modules, for get from the compiled modules`, async () => {
    const loaded = await loadedBy('get-compiled', GET, COMPILED);
    expect([loaded.code, loaded.stderr]).toEqual([1, expect.stringContaining('UNAVAILABLE') as string]);
    expect(loaded.files.has(join(BUNDLE_DIR, 'index.js'))).toBe(false);
    expect(loaded.packages.has('@tessera/client')).toBe(true);
    expect(forbidden(loaded)).toEqual([]);
    expect(loaded.modules.size, countByPackage(loaded.modules)).toBeLessThanOrEqual(MAX_MODULES_FOR_GET);
  });

  it('loads the client and none of them for ls', async () => {
    const loaded = await loadedBy('ls', [...UNREACHABLE, 'ls']);
    expect([loaded.code, loaded.stderr]).toEqual([1, expect.stringContaining('UNAVAILABLE') as string]);
    expect(loaded.packages.has('@tessera/client')).toBe(true);
    expect(forbidden(loaded)).toEqual([]);
  });

  it('loads the definitions parser when a command reads a feature repository', async () => {
    // apply reads and validates the repository before its first call, so port 1 is never reached.
    const repo = join(dir, 'bad-repo');
    mkdirSync(repo);
    writeFileSync(join(repo, 'project.yaml'), 'project: [not a name\n');
    const loaded = await loadedBy('apply', [...UNREACHABLE, 'apply', repo]);
    expect(loaded.code).toBe(1);
    expect(loaded.packages.has('yaml')).toBe(true);
  });

  it('loads the configuration schema when a command reads the configuration', async () => {
    const loaded = await loadedBy('config', ['config', 'print']);
    expect(loaded.code).toBe(0);
    expect(loaded.packages.has('@tessera/config')).toBe(true);
  });
});
