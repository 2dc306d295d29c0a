import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { findExecutable } from './executables.js';

/**
 * Go programs used by tests and benchmarks (grpcurl, ghz, vegeta, helm) are built from the Go module proxy
 * at a pinned version into a per-user cache outside the checkout, so a fresh clone (CI) reuses what an
 * earlier clone on the same machine built: their npm namesakes download binaries at install time and
 * fail on these machines.
 */

/** Env var naming the folder built tools go to, instead of the per-user cache. */
export const GO_BIN_DIR_ENV = 'TESSERA_GO_BIN_DIR';

/** Tessera's per-user cache: `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`. */
export function tesseraCacheDir(): string {
  const xdg = process.env['XDG_CACHE_HOME'];
  // The XDG spec says a relative path is invalid and must be ignored.
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'tessera');
}

/** Where built tools live: `$TESSERA_GO_BIN_DIR`, else `<tessera cache>/go-bin`. */
export function goBinDir(): string {
  const override = process.env[GO_BIN_DIR_ENV];
  return override !== undefined && override.trim() !== '' ? override : join(tesseraCacheDir(), 'go-bin');
}

/** {@link goBinDir} when this module was loaded. */
export const GO_BIN_DIR = goBinDir();

/** Go is installed here on our machines but not always on PATH. */
const GO_FALLBACK_DIRS = ['/usr/local/go/bin'];
const GO_INSTALL_TIMEOUT_MILLIS = 10 * 60_000;
const GO_INSTALL_HINT = 'Install Go from https://go.dev/doc/install (or put its bin directory on PATH).';

/** A Go program pinned at a version, as `go install` takes it. */
export interface GoTool {
  readonly modulePath: string;
  readonly version: string;
  readonly binName: string;
}

/** grpcurl, pinned: v1.9.4 builds with Go 1.26. */
export const GRPCURL = {
  modulePath: 'github.com/fullstorydev/grpcurl/cmd/grpcurl',
  version: 'v1.9.4',
  binName: 'grpcurl',
} as const satisfies GoTool;

/** helm, pinned: v4.3.2 (the approved Helm 4 release); `lint --strict` and `template` work offline. */
export const HELM = {
  modulePath: 'helm.sh/helm/v4/cmd/helm',
  version: 'v4.3.2',
  binName: 'helm',
} as const satisfies GoTool;

/** Path of the `go` command, or undefined when Go is not installed. */
export function findGo(): string | undefined {
  const goroot = process.env['GOROOT'];
  return findExecutable('go', goroot ? [join(goroot, 'bin'), ...GO_FALLBACK_DIRS] : GO_FALLBACK_DIRS);
}

/**
 * Where `binName` at `version` lives in `dir`: `<dir>/<binName>@<version>/<binName>`. The version is in
 * the folder name, so changing a pin builds the new version beside the old one instead of running a
 * stale binary; the binary keeps its own name, so its folder can go on PATH.
 */
export function goToolPath(dir: string, binName: string, version: string): string {
  return join(dir, `${binName}@${version}`, binName);
}

/**
 * Builds `modulePath@version` with `go install` into {@link goBinDir} unless that version is already
 * there, and resolves with the binary's path. Safe when several processes build the same tool at once:
 * each builds into its own temporary folder beside the cache and moves the binary into place with an
 * atomic rename, so a reader never sees a half-written file.
 */
export async function ensureGoTool(modulePath: string, version: string, binName: string): Promise<string> {
  const dir = goBinDir();
  const binPath = goToolPath(dir, binName, version);
  if (existsSync(binPath)) return binPath;

  const wanted = `${modulePath}@${version}`;
  const go = findGo();
  if (go === undefined) throw new Error(`Building ${wanted} needs Go, which is not installed. ${GO_INSTALL_HINT}`);
  await mkdir(dir, { recursive: true });
  // In the cache folder itself, so the rename stays on one file system.
  const buildDir = await mkdtemp(join(dir, `.build-${binName}-`));
  try {
    await promisify(execFile)(go, ['install', wanted], {
      env: goEnvironment(buildDir),
      timeout: GO_INSTALL_TIMEOUT_MILLIS,
      maxBuffer: 16 * 1024 * 1024,
    });
    await mkdir(dirname(binPath), { recursive: true });
    await rename(join(buildDir, binName), binPath);
  } catch (error) {
    const { stderr = '' } = error as { stderr?: string };
    throw new Error(`go install ${wanted} failed: ${stderr.trim() || String(error)}`, { cause: error });
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
  return binPath;
}

/** Builds `tool` if needed and resolves with its path. */
export function ensureTool(tool: GoTool): Promise<string> {
  return ensureGoTool(tool.modulePath, tool.version, tool.binName);
}

/** Builds {@link GRPCURL} if needed and resolves with its path. */
export function ensureGrpcurl(): Promise<string> {
  return ensureTool(GRPCURL);
}

/** Builds {@link HELM} if needed (about two minutes the first time) and resolves with its path. */
export function ensureHelm(): Promise<string> {
  return ensureTool(HELM);
}

function goEnvironment(gobin: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GOBIN: gobin };
  // Go keeps its caches under $HOME; CI containers sometimes have none.
  if (!env['HOME']) {
    env['GOPATH'] ??= join(tesseraCacheDir(), 'go');
    env['GOCACHE'] ??= join(tesseraCacheDir(), 'go-build');
  }
  return env;
}
