import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, ensurePythonVenv, findGo, sleep } from '@tessera/testkit';

/**
 * Builds of the Python and Go clients for tests that run them (test/conformance): the Python package
 * installed into a cached venv, the Go stubs generated once per proto change.
 */
const run = promisify(execFile);

export const PYTHON_CLIENT_DIR = join(REPO_ROOT, 'clients', 'python');
export const GO_CLIENT_DIR = join(REPO_ROOT, 'clients', 'go');

/**
 * The Python client's dependencies (its runtime ones and the build backend of clients/python/pyproject.toml),
 * pinned: the cached venv is keyed by this text.
 */
const PYTHON_CLIENT_REQUIREMENTS = [
  'setuptools==84.2.1',
  'grpcio-tools==1.85.4',
  'grpcio==1.85.4',
  'protobuf==7.36.2',
  'pandas==3.1.1',
  'pyarrow==26.0.1',
  '',
].join('\n');

/** First run on a machine downloads pandas, pyarrow, grpcio and grpcio-tools. */
export const PYTHON_INSTALL_TIMEOUT_MILLIS = 15 * 60_000;

/**
 * The `python` of a cached venv (`~/.cache/tessera/tessera-client-venv-<digest>`) holding the client's
 * pinned dependencies, with this checkout's clients/python installed into it (`pip install --no-deps
 * --no-build-isolation`: a local build, which generates the stubs from proto/, about 1.5 s). The build
 * runs on a copy of clients/python (`TESSERA_PROTO_DIR` names proto/), so it never writes into the
 * checkout, where test/clients/python.test.ts may be building the package at the same time.
 */
export async function installPythonClient(): Promise<string> {
  const python = await ensurePythonVenv({
    name: 'tessera-client',
    requirements: PYTHON_CLIENT_REQUIREMENTS,
    installTimeoutMillis: PYTHON_INSTALL_TIMEOUT_MILLIS,
  });
  const scratch = mkdtempSync(join(tmpdir(), 'tessera-python-client-build-'));
  const source = join(scratch, 'python');
  const generated = new Set(['build', '_proto', '__pycache__']);
  cpSync(PYTHON_CLIENT_DIR, source, {
    recursive: true,
    filter: (path) =>
      !relative(PYTHON_CLIENT_DIR, path)
        .split('/')
        .some((part) => generated.has(part) || part.endsWith('.egg-info')),
  });
  const args = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-compile'];
  try {
    await run(python, [...args, '--no-deps', '--no-build-isolation', '--force-reinstall', source], {
      cwd: scratch,
      env: { ...process.env, TESSERA_PROTO_DIR: join(REPO_ROOT, 'proto') },
      timeout: PYTHON_INSTALL_TIMEOUT_MILLIS,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`pip install ./clients/python failed:\n${stdout}\n${stderr}`.slice(-4_000), { cause: error });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return python;
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
  if (fresh()) return;
  const lock = join(GO_CLIENT_DIR, '.tesserapb.lock');
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (existsSync(lock) ? statSync(lock).mtimeMs : Date.now());
      if (age > GO_GENERATE_LOCK_STALE_MILLIS) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} was held for ${timeoutMillis} ms`, { cause: error });
      else await sleep(500);
    }
  }
  try {
    if (fresh()) return;
    await run(requireGo(), ['generate', './...'], { cwd: GO_CLIENT_DIR, timeout: timeoutMillis });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
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
