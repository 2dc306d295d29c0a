import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, ensurePythonVenv, findGo, sleep, tesseraCacheDir } from '@tessera/testkit';

/**
 * Builds of the Python and Go clients for tests that run them (test/clients, test/conformance): the
 * Python package built once per change of its inputs beside a cached venv of its dependencies, the Go
 * stubs generated once per proto change.
 */
const run = promisify(execFile);

export const PYTHON_CLIENT_DIR = join(REPO_ROOT, 'clients', 'python');
export const GO_CLIENT_DIR = join(REPO_ROOT, 'clients', 'go');

/**
 * The Python client's dependencies (its runtime ones, the build backend of clients/python/pyproject.toml
 * and the test extra), pinned: the cached venv is keyed by this text.
 */
const PYTHON_CLIENT_REQUIREMENTS = [
  'setuptools==84.2.1',
  'grpcio-tools==1.85.4',
  'grpcio==1.85.4',
  'protobuf==7.36.2',
  'pandas==3.1.1',
  'pyarrow==26.0.1',
  'pytest==9.2.0',
  '',
].join('\n');

/** First run on a machine downloads pandas, pyarrow, grpcio and grpcio-tools. */
export const PYTHON_INSTALL_TIMEOUT_MILLIS = 15 * 60_000;

/** A build lock older than this was left by a process that died: taken over. */
const PYTHON_BUILD_LOCK_STALE_MILLIS = 10 * 60_000;

/** What runs the built Python client: the venv's `python`, and the environment that finds the package. */
export interface PythonClient {
  readonly python: string;
  /** `PYTHONPATH` naming the built package's folder (merge into the child's environment). */
  readonly env: { readonly PYTHONPATH: string };
}

/** Files of clients/python that are build output, never inputs. */
const GENERATED_PARTS = new Set(['build', '_proto', '__pycache__', '.pytest_cache']);

function isGenerated(path: string): boolean {
  return path.split('/').some((part) => GENERATED_PARTS.has(part) || part.endsWith('.egg-info'));
}

/** A digest of everything a build of the client reads: clients/python's sources and every .proto file. */
function pythonClientDigest(): string {
  const hash = createHash('sha256');
  for (const root of [PYTHON_CLIENT_DIR, join(REPO_ROOT, 'proto')]) {
    const files = readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(root, join(entry.parentPath, entry.name)))
      .filter((path) => !isGenerated(path) && (root === PYTHON_CLIENT_DIR || path.endsWith('.proto')))
      .sort();
    for (const file of files) hash.update(`${root}\0${file}\0`).update(readFileSync(join(root, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Checks, in the venv, that the built package's declared dependencies (`Requires-Dist`, the `test`
 * extra included) accept the pinned versions installed there: a wrong range in pyproject.toml fails here.
 */
const CHECK_REQUIREMENTS = `
import sys, importlib.metadata as md
from pip._vendor.packaging.requirements import Requirement
dist = md.Distribution.at(sys.argv[1])
bad = []
for text in dist.requires or []:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": "test"}):
        continue
    try:
        version = md.version(req.name)
    except md.PackageNotFoundError:
        bad.append(f"{req}: not installed")
        continue
    if not req.specifier.contains(version, prereleases=True):
        bad.append(f"{req}: the pinned {version} is outside the range")
if bad:
    sys.exit("tessera-client's declared dependencies do not accept the pinned ones: " + "; ".join(bad))
`;

/**
 * The Python client built from this checkout (`pip install --no-deps --no-build-isolation --target`: a
 * local build, which generates the stubs from proto/) beside a cached venv holding its pinned
 * dependencies (`~/.cache/tessera/tessera-client-venv-<digest>`). A build is kept per digest of its
 * inputs (`<tessera cache>/tessera-client-build-<digest>`, never changed once written), so test files
 * running at once share it and a changed proto/ or client gets a build of its own. The build runs on
 * a copy of clients/python (`TESSERA_PROTO_DIR` names proto/), so it never writes into the checkout.
 */
export async function installPythonClient(): Promise<PythonClient> {
  const python = await ensurePythonVenv({
    name: 'tessera-client',
    requirements: PYTHON_CLIENT_REQUIREMENTS,
    installTimeoutMillis: PYTHON_INSTALL_TIMEOUT_MILLIS,
  });
  const site = join(tesseraCacheDir(), `tessera-client-build-${pythonClientDigest()}`);
  const client: PythonClient = { python, env: { PYTHONPATH: site } };
  await underLockDir(
    `${site}.lock`,
    PYTHON_BUILD_LOCK_STALE_MILLIS,
    PYTHON_INSTALL_TIMEOUT_MILLIS,
    () => existsSync(site),
    () => buildPythonClient(python, site),
  );
  return client;
}

/** Builds the client into `site` (through a scratch folder renamed at the end: `site` is whole or absent). */
async function buildPythonClient(python: string, site: string): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'tessera-python-client-build-'));
  try {
    const source = join(scratch, 'python');
    const target = join(scratch, 'site');
    cpSync(PYTHON_CLIENT_DIR, source, {
      recursive: true,
      filter: (path) => !isGenerated(relative(PYTHON_CLIENT_DIR, path)),
    });
    const args = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-compile'];
    try {
      await run(python, [...args, '--no-deps', '--no-build-isolation', '--target', target, source], {
        cwd: scratch,
        env: { ...process.env, TESSERA_PROTO_DIR: join(REPO_ROOT, 'proto') },
        timeout: PYTHON_INSTALL_TIMEOUT_MILLIS,
        maxBuffer: 64 * 1024 * 1024,
      });
      const [distInfo] = readdirSync(target).filter((name) => /^tessera_client-.*\.dist-info$/.test(name));
      if (distInfo === undefined) throw new Error(`no tessera_client-*.dist-info in ${target}`);
      await run(python, ['-c', CHECK_REQUIREMENTS, join(target, distInfo)], { timeout: 60_000 });
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`pip install ./clients/python failed:\n${stdout}\n${stderr}`.slice(-4_000), { cause: error });
    }
    mkdirSync(dirname(site), { recursive: true });
    renameSync(target, site);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Runs `work` unless `done()`, holding the lock folder `lock` (mkdir is atomic): test files running at
 * once take turns, and the second finds the work done. A lock older than `staleMillis` was left by a
 * process that died: taken over.
 */
async function underLockDir(
  lock: string,
  staleMillis: number,
  timeoutMillis: number,
  done: () => boolean,
  work: () => Promise<void>,
): Promise<void> {
  if (done()) return;
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (existsSync(lock) ? statSync(lock).mtimeMs : Date.now());
      if (age > staleMillis) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} was held for ${timeoutMillis} ms`, { cause: error });
      else await sleep(500);
      if (done()) return;
    }
  }
  try {
    if (!done()) await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The go binary, or an error saying Go is needed. */
export function requireGo(): string {
  const go = findGo();
  if (go === undefined) throw new Error('the Go client tests need Go (https://go.dev/doc/install)');
  return go;
}

function newestMtime(dir: string, suffix: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(suffix)) {
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/** A stubs lock older than this was left by a process that died: taken over. */
const GO_GENERATE_LOCK_STALE_MILLIS = 10 * 60_000;

/**
 * `go generate ./...` in clients/go (the documented way to get the tesserapb stubs), skipped when the
 * stubs are newer than every .proto file. Regenerating deletes the stubs first, so test files doing it
 * at the same time (they run two at a time) take turns on a lock folder, and the second one finds the
 * stubs fresh.
 */
export async function generateGoStubs(timeoutMillis: number): Promise<void> {
  const stubs = join(GO_CLIENT_DIR, 'tesserapb');
  const fresh = (): boolean =>
    existsSync(stubs) && newestMtime(stubs, '.go') > newestMtime(join(REPO_ROOT, 'proto'), '.proto');
  await underLockDir(
    join(GO_CLIENT_DIR, '.tesserapb.lock'),
    GO_GENERATE_LOCK_STALE_MILLIS,
    timeoutMillis,
    fresh,
    async () => {
      await run(requireGo(), ['generate', './...'], { cwd: GO_CLIENT_DIR, timeout: timeoutMillis });
    },
  );
}

/** `go <args>` in clients/go: exit code, stdout and stdout+stderr, whatever the outcome. */
export function goCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMillis: number,
): Promise<{ code: number; stdout: string; output: string }> {
  return run(requireGo(), args, {
    cwd: GO_CLIENT_DIR,
    timeout: timeoutMillis,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, ...env },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, output: stdout + stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: typeof error.code === 'number' ? error.code : 1,
      stdout: error.stdout ?? '',
      output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
    }),
  );
}

/**
 * The `tessera serve` flags of the clients' suites: the suite's Redis Cluster under `keyPrefix`, the
 * offline server at `offlineAddress`, API keys, and mTLS with the test CA (every caller shows a
 * certificate it signed).
 */
export function securedServeArgs(options: {
  readonly nodeList: string;
  readonly keyPrefix: string;
  readonly offlineAddress: string;
  readonly certs: { readonly serverCertFile: string; readonly serverKeyFile: string; readonly caFile: string };
}): string[] {
  const { nodeList, keyPrefix, offlineAddress, certs } = options;
  return [
    ...['--redis-cluster', nodeList, '--key-prefix', keyPrefix, '--offline-server', offlineAddress, '--auth'],
    ...['--tls-cert', certs.serverCertFile, '--tls-key', certs.serverKeyFile, '--tls-client-ca', certs.caFile],
  ];
}
