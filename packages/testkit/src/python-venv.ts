import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tesseraCacheDir } from './go-tools.js';

/**
 * Python packages used by tests and benchmarks (Feast, kubernetes-validate, jsonschema) are installed
 * from PyPI into a venv in the per-user cache, never into the system Python and never into the
 * checkout: `<tessera cache>/<name>-venv-<digest of the requirements>`. A fresh clone reuses it, and a
 * changed pin gets a venv of its own.
 */

/** A venv being created by another process is waited for this long, then its lock counts as stale. */
const VENV_LOCK_STALE_MILLIS = 30 * 60_000;
const VENV_CREATE_TIMEOUT_MILLIS = 120_000;
const DEFAULT_INSTALL_TIMEOUT_MILLIS = 20 * 60_000;
const LOCK_POLL_MILLIS = 2_000;

/** Options of {@link ensurePythonVenv}. */
export interface PythonVenvOptions {
  /** Folder name prefix, e.g. `feast` → `feast-venv-<digest>`. */
  readonly name: string;
  /** The text of a requirements.txt, with pinned versions. */
  readonly requirements: string;
  /** How long pip may take, ms. Default 20 minutes. */
  readonly installTimeoutMillis?: number;
  /** Told when an install starts and ends (it takes a while the first time). */
  readonly log?: (message: string) => void;
}

/** Where the venv of `name` with these `requirements` lives. */
export function pythonVenvDir(name: string, requirements: string): string {
  return join(tesseraCacheDir(), `${name}-venv-${requirementsDigest(requirements).slice(0, 16)}`);
}

/**
 * The path of the venv's `python`, with the requirements installed. A venv cannot be moved once built
 * (its scripts name their own path), so two processes creating it at once take turns on a lock folder
 * instead of building aside and renaming; a stamp file written last marks a complete install.
 */
export async function ensurePythonVenv(options: PythonVenvOptions): Promise<string> {
  const digest = requirementsDigest(options.requirements);
  const venv = pythonVenvDir(options.name, options.requirements);
  const python = join(venv, 'bin/python');
  const stamp = join(venv, '.tessera-requirements');
  const ready = (): boolean => existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest;
  if (ready()) return python;
  await mkdir(tesseraCacheDir(), { recursive: true });
  const lock = `${venv}.lock`;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > VENV_LOCK_STALE_MILLIS) await rm(lock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MILLIS));
      if (ready()) return python;
    }
  }
  const run = promisify(execFile);
  try {
    if (ready()) return python;
    // Whatever a process that died half-way left behind.
    await rm(venv, { recursive: true, force: true });
    const started = performance.now();
    options.log?.(`installing ${options.name} into ${venv} (pip, once per machine)`);
    await run('python3', ['-m', 'venv', venv], { timeout: VENV_CREATE_TIMEOUT_MILLIS });
    const requirementsFile = join(venv, 'requirements.txt');
    await writeFile(requirementsFile, options.requirements);
    try {
      await run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirementsFile], {
        timeout: options.installTimeoutMillis ?? DEFAULT_INSTALL_TIMEOUT_MILLIS,
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (error) {
      const { stderr = '' } = error as { stderr?: string };
      throw new Error(`pip install into ${venv} failed: ${stderr.trim().slice(-2_000) || String(error)}`, {
        cause: error,
      });
    }
    await writeFile(stamp, digest);
    options.log?.(`${options.name} installed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return python;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

function requirementsDigest(requirements: string): string {
  return createHash('sha256').update(requirements).digest('hex');
}
