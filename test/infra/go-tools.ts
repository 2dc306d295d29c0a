import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findExecutable } from './executables.js';

/**
 * Go programs used by tests and benchmarks (grpcurl, ghz, k6) are built from the Go module proxy at a
 * pinned version into `<repo>/.cache/go-bin`: their npm namesakes download binaries at install time and
 * fail on these machines.
 */

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where built tools live (GOBIN); git-ignored. */
export const GO_BIN_DIR = join(REPO_ROOT, '.cache', 'go-bin');
/** Go is installed here on our machines but not always on PATH. */
const GO_FALLBACK_DIRS = ['/usr/local/go/bin'];
const GO_INSTALL_TIMEOUT_MILLIS = 10 * 60_000;
const GO_INSTALL_HINT = 'Install Go from https://go.dev/doc/install (or put its bin directory on PATH).';

/** grpcurl, pinned: v1.9.4 builds with Go 1.26. */
export const GRPCURL = {
  modulePath: 'github.com/fullstorydev/grpcurl/cmd/grpcurl',
  version: 'v1.9.4',
  binName: 'grpcurl',
} as const;

/** Path of the `go` command, or undefined when Go is not installed. */
export function findGo(): string | undefined {
  const goroot = process.env['GOROOT'];
  return findExecutable('go', goroot ? [join(goroot, 'bin'), ...GO_FALLBACK_DIRS] : GO_FALLBACK_DIRS);
}

/**
 * Builds `modulePath@version` with `go install` into {@link GO_BIN_DIR} unless that version is already
 * there, and resolves with the binary's path. Safe to call from parallel test processes: each builds
 * into its own folder and moves the binary into place with an atomic rename.
 */
export async function ensureGoTool(modulePath: string, version: string, binName: string): Promise<string> {
  const binPath = join(GO_BIN_DIR, binName);
  // The stamp records which version the cached binary is, so a changed pin rebuilds it.
  const stampPath = join(GO_BIN_DIR, `.${binName}.version`);
  const wanted = `${modulePath}@${version}`;
  if (existsSync(binPath) && (await readFile(stampPath, 'utf8').catch(() => '')) === wanted) return binPath;

  const go = findGo();
  if (go === undefined) throw new Error(`Building ${wanted} needs Go, which is not installed. ${GO_INSTALL_HINT}`);
  await mkdir(GO_BIN_DIR, { recursive: true });
  const buildDir = await mkdtemp(join(GO_BIN_DIR, `.build-${binName}-`));
  try {
    await promisify(execFile)(go, ['install', wanted], {
      env: goEnvironment(buildDir),
      timeout: GO_INSTALL_TIMEOUT_MILLIS,
      maxBuffer: 16 * 1024 * 1024,
    });
    await rename(join(buildDir, binName), binPath);
    const stampTemp = join(buildDir, 'stamp');
    await writeFile(stampTemp, wanted);
    await rename(stampTemp, stampPath);
  } catch (error) {
    const { stderr = '' } = error as { stderr?: string };
    throw new Error(`go install ${wanted} failed: ${stderr.trim() || String(error)}`, { cause: error });
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
  return binPath;
}

/** Builds {@link GRPCURL} if needed and resolves with its path. */
export function ensureGrpcurl(): Promise<string> {
  return ensureGoTool(GRPCURL.modulePath, GRPCURL.version, GRPCURL.binName);
}

function goEnvironment(gobin: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GOBIN: gobin };
  // Go keeps its caches under $HOME; CI containers sometimes have none.
  if (!env['HOME']) {
    env['GOPATH'] ??= join(REPO_ROOT, '.cache', 'go');
    env['GOCACHE'] ??= join(REPO_ROOT, '.cache', 'go-build');
  }
  return env;
}
