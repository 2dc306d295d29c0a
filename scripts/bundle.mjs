#!/usr/bin/env node
// Builds the production bundle the container image copies: the compiled `tessera` command with its
// production dependencies only, runnable with nothing but `node`:
//
//   node scripts/bundle.mjs [--out dist/bundle] [--no-build]
//   cd dist/bundle && node packages/cli/bin/tessera.js serve
//
// The same script runs in the Dockerfile's build stage and in test/deploy/bundle.test.ts. It uses
// pnpm's own `deploy` (production dependencies from the lockfile, workspace packages copied in
// through their `files`), not hand-written copying. Node builtins only, like scripts/ensure.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The bundle keeps the repository's path to the command, so `node packages/cli/bin/tessera.js` works in both. */
const CLI_DIR = join('packages', 'cli');
/** What must never be in the bundle: build, test and lint tools (the workspace's dev dependencies). */
const DEV_ONLY = [
  'typescript',
  'vitest',
  'eslint',
  'prettier',
  'tsx',
  'madge',
  'ts-proto',
  '@bufbuild/buf',
  '@tessera/testkit',
];

function log(line) {
  process.stderr.write(`bundle: ${line}\n`);
}

function fail(line) {
  log(line);
  process.exit(1);
}

function parseArgs(argv) {
  const options = { out: join(root, 'dist', 'bundle'), build: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--no-build') options.build = false;
    else if (arg === '--out' && argv[i + 1] !== undefined) {
      const out = argv[++i];
      options.out = isAbsolute(out) ? out : resolve(process.cwd(), out);
    } else fail(`unknown argument ${JSON.stringify(arg)}; usage: node scripts/bundle.mjs [--out <dir>] [--no-build]`);
  }
  return options;
}

/** Runs a command with its output on stderr; exits on failure. */
function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.error) fail(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) fail(`${[command, ...args].join(' ')} failed (exit ${result.status ?? result.signal})`);
}

/** Bytes on disk under `dir`, each hard-linked file counted once (pnpm links files from its store). */
function diskBytes(dir) {
  const seen = new Set();
  let total = 0;
  const walk = (path) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if (stat.isDirectory()) {
      for (const name of readdirSync(path)) walk(join(path, name));
      return;
    }
    const inode = `${stat.dev}:${stat.ino}`;
    if (seen.has(inode)) return;
    seen.add(inode);
    total += stat.size;
  };
  walk(dir);
  return total;
}

/** The package an entry of node_modules/.pnpm holds: `@chdb+lib-linux-x64-gnu@26.7.3` → `@chdb/lib-linux-x64-gnu`. */
function packageName(entry) {
  const scoped = entry.startsWith('@');
  return (scoped ? '@' : '') + (entry.slice(scoped ? 1 : 0).split('@')[0] ?? '').replace('+', '/');
}

/** Fails unless the bundle holds the command, the native engines and none of the dev tools. */
function checkBundle(out) {
  const modules = join(out, CLI_DIR, 'node_modules', '.pnpm');
  const installed = new Set(readdirSync(modules).map(packageName));
  for (const required of ['chdb', '@chdb/lib-linux-x64-gnu', 'lmdb']) {
    if (!installed.has(required)) fail(`${required} is missing from ${modules}`);
  }
  const dev = DEV_ONLY.filter((name) => installed.has(name));
  if (dev.length > 0) fail(`dev dependencies in the bundle: ${dev.join(', ')}`);
  if (!existsSync(join(out, CLI_DIR, 'bin', 'tessera.js'))) fail(`no ${CLI_DIR}/bin/tessera.js in ${out}`);
  if (!existsSync(join(out, CLI_DIR, 'dist', 'index.js'))) fail(`no compiled ${CLI_DIR}/dist/index.js in ${out}`);
}

/** Empties the output folder, refusing anything but an empty folder or an earlier bundle (never `--out .`). */
function clearOutput(out) {
  const inside = relative(out, root);
  if (inside === '' || !inside.startsWith('..')) fail(`--out ${out} holds the repository; choose a folder of its own`);
  if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, CLI_DIR, 'node_modules', '.pnpm'))) {
    fail(`--out ${out} is neither empty nor an earlier bundle; not deleting it`);
  }
  rmSync(out, { recursive: true, force: true });
}

const options = parseArgs(process.argv.slice(2));
// Installs the workspace (with its dev dependencies: the compiler) when needed, then builds.
if (options.build) run(process.execPath, [join(root, 'scripts', 'ensure.mjs')]);
const packageManager = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;
if (typeof packageManager !== 'string') fail('package.json names no packageManager');
clearOutput(options.out);
const startedAt = Date.now();
// pnpm 10 deploys from the lockfile only for injected workspace packages; setting it for this command
// alone copies each workspace package (its `files`: compiled dist) instead of linking the source folder,
// and leaves the development install (symlinked packages, so `tsc -b` output is seen at once) alone.
run('npx', [
  '--yes',
  packageManager,
  '--config.inject-workspace-packages=true',
  'deploy',
  '--prod',
  '--frozen-lockfile',
  '--filter',
  '@tessera/cli',
  join(options.out, CLI_DIR),
]);
checkBundle(options.out);
const megabytes = (diskBytes(options.out) / 1e6).toFixed(0);
log(`${options.out}: ${megabytes} MB in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
log(`run it with: cd ${options.out} && node ${join(CLI_DIR, 'bin', 'tessera.js')} serve`);
