import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findGo, goBinDir, goToolPath } from './go-tools.js';

/**
 * Jaeger v2 (all-in-one, OTLP receiver built in) for the tracing test and bench, built from the Go
 * module proxy at a pinned version. `go install …/cmd/jaeger@v1.75.0` fails (its go.mod has replace
 * directives), so it is built in a scratch module: `go get -tool` then `go build` (~3.5 min on 2 cores).
 * The binary is cached once per machine outside the checkout, beside the other Go tools:
 * `$TESSERA_GO_BIN_DIR` else `$XDG_CACHE_HOME/tessera/go-bin` else `~/.cache/tessera/go-bin`, as
 * `jaeger@<version>/jaeger`.
 */

/** The pinned Jaeger: v1.75.0 is the v2 binary (v1.76.0 is skipped, see TOOLCHAIN.md). */
export const JAEGER = {
  modulePath: 'github.com/jaegertracing/jaeger/cmd/jaeger',
  version: 'v1.75.0',
  binName: 'jaeger',
} as const;

/** A first build downloads modules and compiles ~120 MB of Go: minutes, not seconds. */
export const JAEGER_BUILD_TIMEOUT_MILLIS = 15 * 60_000;

/** Where the pinned Jaeger binary lives (whether or not it is built yet). */
export function jaegerPath(): string {
  return goToolPath(goBinDir(), JAEGER.binName, JAEGER.version);
}

/**
 * Builds the pinned Jaeger unless it is cached, and resolves with the binary's path. Safe when several
 * processes build at once: each builds in its own scratch folder and moves the binary into place with
 * an atomic rename.
 */
export async function ensureJaeger(): Promise<string> {
  const binPath = jaegerPath();
  if (existsSync(binPath)) return binPath;
  const go = findGo();
  if (go === undefined) {
    throw new Error(
      `Building ${JAEGER.modulePath}@${JAEGER.version} needs Go, which is not installed. ` +
        'Install Go from https://go.dev/doc/install (or put its bin directory on PATH).',
    );
  }
  const toolDir = join(binPath, '..');
  await mkdir(toolDir, { recursive: true });
  const scratch = await mkdtemp(join(goBinDir(), `.build-${JAEGER.binName}-`));
  const run = (args: string[]) =>
    promisify(execFile)(go, args, {
      cwd: scratch,
      env: goEnvironment(scratch),
      timeout: JAEGER_BUILD_TIMEOUT_MILLIS,
      maxBuffer: 16 * 1024 * 1024,
    });
  try {
    await writeFile(join(scratch, 'go.mod'), 'module tessera.local/jaeger-build\n\ngo 1.24\n');
    await run(['get', '-tool', `${JAEGER.modulePath}@${JAEGER.version}`]);
    const built = join(scratch, JAEGER.binName);
    await run(['build', '-o', built, JAEGER.modulePath]);
    await rename(built, binPath);
  } catch (error) {
    const { stderr = '' } = error as { stderr?: string };
    throw new Error(`building ${JAEGER.modulePath}@${JAEGER.version} failed: ${stderr.trim() || String(error)}`, {
      cause: error,
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return binPath;
}

function goEnvironment(scratch: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GOFLAGS: '-mod=mod' };
  // Go keeps its caches under $HOME; CI containers sometimes have none.
  if (!env['HOME']) {
    env['GOPATH'] ??= join(scratch, '..', '.go');
    env['GOCACHE'] ??= join(scratch, '..', '.go-build');
  }
  return env;
}

/** A Jaeger all-in-one running on loopback with in-memory storage. */
export interface RunningJaeger extends AsyncDisposable {
  /** OTLP over HTTP: what `otlpEndpoint` takes (`http://127.0.0.1:<port>`). */
  readonly otlpHttpUrl: string;
  /** Base of the query HTTP API (`/api/traces`, `/api/services`) and UI. */
  readonly queryUrl: string;
  /** Everything it printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** How long Jaeger may take to answer its query API after starting, ms. */
const JAEGER_START_TIMEOUT_MILLIS = 30_000;

/**
 * Builds (if needed) and starts Jaeger v2 on free loopback ports from a config file of ours: the
 * all-in-one pipeline (OTLP/HTTP receiver → in-memory store → query API) without the receivers and
 * extensions we do not use, and every endpoint on 127.0.0.1.
 */
export async function startJaeger(): Promise<RunningJaeger> {
  const binPath = await ensureJaeger();
  const [otlpPort, queryHttpPort, queryGrpcPort] = await freePorts(3);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-jaeger-'));
  const configPath = join(dir, 'jaeger.yaml');
  await writeFile(configPath, jaegerConfig(otlpPort as number, queryHttpPort as number, queryGrpcPort as number));
  const child = spawn(binPath, ['--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const queryUrl = `http://127.0.0.1:${queryHttpPort}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + JAEGER_START_TIMEOUT_MILLIS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jaeger exited with ${child.exitCode}:\n${out}`);
    const ready = await fetch(`${queryUrl}/api/services`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`jaeger did not answer on ${queryUrl} within ${JAEGER_START_TIMEOUT_MILLIS} ms:\n${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    otlpHttpUrl: `http://127.0.0.1:${otlpPort}`,
    queryUrl,
    output: () => out,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function jaegerConfig(otlpPort: number, queryHttpPort: number, queryGrpcPort: number): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    # On by default: Jaeger would trace itself to localhost:4317.
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${queryHttpPort}
    grpc:
      endpoint: 127.0.0.1:${queryGrpcPort}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/** `count` distinct free loopback ports (bound then released: a tiny race, fine for tests). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
