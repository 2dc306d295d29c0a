#!/usr/bin/env node
// Makes `npm start` and `npm test` work as the first command on a fresh clone: installs dependencies
// when the manifests changed, builds incrementally and, with --test, makes sure Redis is installed.
// Runs before any dependency exists, so it uses node builtins only.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--test');
const isCI = Boolean(process.env.CI) && !['0', 'false'].includes(process.env.CI.toLowerCase());

function log(line) {
  process.stderr.write(`ensure: ${line}\n`);
}

/** Runs a command with its output on stderr (stdout stays free for what `npm start` prints); exits on failure. */
function run(command, args, { allowFailure = false, ...options } = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: ['inherit', 2, 2], ...options });
  if (result.error) {
    log(`${command} could not start: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0 && allowFailure) {
    log(`${[command, ...args].join(' ')} failed (exit ${result.status ?? result.signal}); going on`);
  } else if (result.status !== 0) {
    log(`${[command, ...args].join(' ')} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

function mtimeMillis(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** package.json of the root and of every workspace package (pnpm-workspace.yaml globs of the form `dir/*`). */
function manifestPaths() {
  const paths = [join(root, 'package.json'), join(root, 'pnpm-lock.yaml'), join(root, 'pnpm-workspace.yaml')];
  const workspace = existsSync(join(root, 'pnpm-workspace.yaml'))
    ? readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')
    : '';
  let inPackages = false;
  for (const line of workspace.split('\n')) {
    if (/^\S/.test(line)) inPackages = line.startsWith('packages:');
    const entry = inPackages ? /^\s+-\s*['"]?([^'"\s#]+)/.exec(line)?.[1] : undefined;
    if (!entry) continue;
    if (entry.endsWith('/*')) {
      const parent = join(root, entry.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const name of readdirSync(parent)) paths.push(join(parent, name, 'package.json'));
    } else {
      paths.push(join(root, entry, 'package.json'));
    }
  }
  return paths.filter((path) => existsSync(path));
}

function ensureNodeVersion() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  // 20.12 brought crypto.hash (the API key check of every call).
  if (major < 20 || (major === 20 && minor < 12)) {
    log(`Node ${process.versions.node} is too old: Tessera needs Node 20.12 or newer.`);
    process.exit(1);
  }
}

function ensureDependencies() {
  const stateFile = join(root, 'node_modules', '.modules.yaml');
  const newestManifest = Math.max(...manifestPaths().map(mtimeMillis));
  // `pnpm fetch` (the image's cached layer) leaves a state file without linking the packages: a
  // finished install also has the compiler the build runs.
  const linked = existsSync(join(root, 'node_modules', 'typescript', 'bin', 'tsc'));
  if (linked && existsSync(stateFile) && mtimeMillis(stateFile) >= newestManifest) return;
  const packageManager = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager ?? 'pnpm@10';
  const args = ['--yes', packageManager, 'install', ...(isCI ? ['--frozen-lockfile'] : [])];
  log(`installing dependencies: npx ${args.join(' ')}`);
  run('npx', args);
  // pnpm leaves the state file alone when nothing changed; mark the install as done for the next run.
  if (existsSync(stateFile) && mtimeMillis(stateFile) < newestManifest) {
    const now = new Date();
    utimesSync(stateFile, now, now);
  }
}

function build() {
  log('building: tsc -b tsconfig.build.json, then scripts/bundle-cli.mjs');
  // Through node rather than the node_modules/.bin shell shim, which needs sh, sed and dirname.
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'tsconfig.build.json']);
  // After the compiler, as `npm run build` does: the `tessera` command's client side in a few files.
  run(process.execPath, [join(root, 'scripts', 'bundle-cli.mjs')]);
}

/** Installs a Debian package when one of its commands is missing (as root with apt-get), else says how. */
function ensureDebianPackage(pkg, commands, why) {
  if (commands.every((c) => findOnPath(c))) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && findOnPath('apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    log(`${commands.join(' or ')} is missing; ${why}. Running: apt-get update`);
    // An unreachable mirror fails the update, yet the install may still work from the cached lists.
    run('apt-get', ['update'], { env, allowFailure: true });
    log(`running: apt-get install -y ${pkg}`);
    run('apt-get', ['install', '-y', pkg], { env });
    if (commands.every((c) => findOnPath(c))) return;
    log(`apt-get finished but ${commands.join(' or ')} is still not on PATH.`);
    process.exit(1);
  }
  log(`${commands.join(' or ')} is missing; ${why}. Install it with:`);
  log(`  sudo apt-get install -y ${pkg}`);
  process.exit(1);
}

function ensureRedis() {
  ensureDebianPackage('redis-server', ['redis-server', 'redis-cli'], 'the tests run a real Redis Cluster (Redis 7)');
  // The TLS tests make their certificates at test time.
  ensureDebianPackage('openssl', ['openssl'], 'the TLS tests make their certificates with it');
}

ensureNodeVersion();
ensureDependencies();
build();
if (forTests) ensureRedis();
