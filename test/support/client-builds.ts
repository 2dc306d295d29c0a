import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, ensurePythonVenv, findGo } from '@tessera/testkit';

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
 * --no-build-isolation`: a local build, which generates the stubs from proto/, a few seconds).
 */
export async function installPythonClient(): Promise<string> {
  const python = await ensurePythonVenv({
    name: 'tessera-client',
    requirements: PYTHON_CLIENT_REQUIREMENTS,
    installTimeoutMillis: PYTHON_INSTALL_TIMEOUT_MILLIS,
  });
  const args = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-compile'];
  try {
    await run(python, [...args, '--no-deps', '--no-build-isolation', '--force-reinstall', PYTHON_CLIENT_DIR], {
      cwd: REPO_ROOT,
      timeout: PYTHON_INSTALL_TIMEOUT_MILLIS,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`pip install ./clients/python failed:\n${stdout}\n${stderr}`.slice(-4_000), { cause: error });
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

/**
 * `go generate ./...` in clients/go (the documented way to get the tesserapb stubs), skipped when the
 * stubs are newer than every .proto file: regenerating deletes them first, which would pull them from
 * under another test file building the module at the same time.
 */
export async function generateGoStubs(timeoutMillis: number): Promise<void> {
  const stubs = join(GO_CLIENT_DIR, 'tesserapb');
  if (existsSync(stubs) && newestMtime(stubs, '.go') > newestMtime(join(REPO_ROOT, 'proto'), '.proto')) return;
  await run(requireGo(), ['generate', './...'], { cwd: GO_CLIENT_DIR, timeout: timeoutMillis });
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
