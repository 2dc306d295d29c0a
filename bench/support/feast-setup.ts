// Setup shared by the Feast comparisons (bench/feast.ts, bench/feast-remote.ts): Feast's venv, the
// feast_bench.py and feast-child runners, the data (Parquet files, `feast apply` + `materialize` into the
// Redis Cluster, Tessera's copy of the same views and latest rows) and `feast serve`.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { formatProblems, parseRepository } from '@tessera/core';
import { TesseraClient } from '@tessera/client';
import { ensurePythonVenv } from '@tessera/testkit';
import type { Cleanup } from './cleanup.js';
import type { FeastChildResult, FeastChildTask } from './feast-child.js';
import { feastViewsYaml, type FeastShape } from './feast-views.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/tessera.js');
export const FEAST_DIR = join(REPO_ROOT, 'bench/feast');
const execFileAsync = promisify(execFile);
/** feast serve answers 422 without it. */
export const JSON_HEADERS = { 'Content-Type': 'application/json' };
const FEAST_SERVE_START_MILLIS = 120_000;
const FEAST_SERVE_STOP_MILLIS = 10_000;

/**
 * The venv's Python with Feast installed, in the per-user cache outside the checkout
 * (`<tessera cache>/feast-venv-<digest of requirements.txt>`): a fresh clone reuses it and a changed
 * pin gets a new one.
 */
export function ensureFeast(log: (message: string) => void): Promise<string> {
  return ensurePythonVenv({
    name: 'feast',
    requirements: readFileSync(join(FEAST_DIR, 'requirements.txt'), 'utf8'),
    log,
  });
}

/** Runs a feast_bench.py subcommand; its last stdout line is one JSON object. */
export async function feastBench<T>(python: string, args: readonly string[], timeoutMillis: number): Promise<T> {
  try {
    const { stdout } = await execFileAsync(python, [join(FEAST_DIR, 'feast_bench.py'), ...args], {
      cwd: REPO_ROOT,
      timeout: timeoutMillis,
      maxBuffer: 256 * 1024 * 1024,
    });
    const last = stdout.trim().split('\n').at(-1) ?? '';
    return JSON.parse(last) as T;
  } catch (error) {
    // The Python side says what failed on its stderr (a value mismatch names the store, feature and row).
    const { stderr = '' } = error as { stderr?: string };
    throw new Error(`feast_bench.py ${args[0] ?? ''} failed:\n${stderr.slice(-6_000)}`, { cause: error });
  }
}

/** Runs one chDB step of bench/support/feast-child.ts in a process of its own. */
export async function feastChild(task: FeastChildTask, timeoutMillis = 20 * 60_000): Promise<FeastChildResult> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'bench/support/feast-child.ts'), JSON.stringify(task)],
    { cwd: REPO_ROOT, timeout: timeoutMillis, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
  );
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) throw new Error(`feast-child printed no RESULT line:\n${stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as FeastChildResult;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Sizes of the data both stores get. */
export interface FeastDataConfig {
  readonly entities: number;
  readonly rowsPerView: number;
  readonly shape: FeastShape;
}

/** What `feast_bench.py prepare` reports. */
export interface FeastPrepared {
  readonly rows: number;
  readonly prepareSeconds: number;
  readonly materializeSeconds: number;
  readonly feast: string;
}

/** The same data in Feast (its repository, materialized into Redis) and in a running Tessera. */
export interface FeastComparisonData {
  /** Feast's repository: feature_store.yaml (Redis online store), features.py, registry.db, data/. */
  readonly repo: string;
  readonly parquetDir: string;
  /** chDB folder holding Tessera's tables of the same rows (for training sets). */
  readonly chdbDir: string;
  readonly prepared: FeastPrepared;
  readonly loadedRows: number;
  readonly loadSeconds: number;
  /** `tessera serve --redis-cluster`, its online store holding each entity's latest row. */
  readonly server: ServerProcess;
  readonly client: TesseraClient;
}

/**
 * In `dir`: Feast's data, repository, apply and materialize (feast_bench.py prepare); Tessera's tables
 * loaded from the same Parquet files and its online store given the latest row of each entity (what
 * `feast materialize` wrote), through a `tessera serve` on the same cluster, started with
 * `serverArgs` added. Everything started is stopped by `cleanup`.
 */
export async function prepareFeastComparison(options: {
  readonly python: string;
  readonly nodes: string;
  readonly dir: string;
  readonly config: FeastDataConfig;
  readonly serverArgs?: readonly string[];
  readonly cleanup: Cleanup;
  readonly log: (message: string) => void;
}): Promise<FeastComparisonData> {
  const { python, nodes, dir, config, cleanup, log } = options;
  const repo = join(dir, 'feast_repo');
  const prepared = await feastBench<FeastPrepared>(
    python,
    [
      'prepare',
      '--repo',
      repo,
      '--entities',
      String(config.entities),
      '--rows-per-view',
      String(config.rowsPerView),
      '--views',
      String(config.shape.views),
      '--features',
      String(config.shape.features),
      '--redis',
      nodes,
      '--ttl-days',
      String(config.shape.ttlDays),
    ],
    30 * 60_000,
  );
  log(`Feast ${prepared.feast}: ${prepared.rows} rows, materialize ${prepared.materializeSeconds.toFixed(1)} s`);
  const parquetDir = join(repo, 'data');
  const chdbDir = join(dir, 'chdb');
  const loaded = await feastChild({ kind: 'load', dataDir: chdbDir, parquetDir, shape: config.shape });
  log(`Tessera tables: ${loaded.rows} rows loaded in ${(loaded.millis / 1000).toFixed(1)} s`);
  if (loaded.rows !== prepared.rows)
    throw new Error(`Tessera loaded ${loaded.rows} rows, Feast wrote ${prepared.rows}`);

  // Tessera's online store: the latest row of each entity, as feast materialize wrote it.
  const keyPrefix = `feast-cmp-${process.pid}:`;
  const server = await startServerProcess(CLI_BIN, [
    '--redis-cluster',
    nodes,
    '--key-prefix',
    keyPrefix,
    ...(options.serverArgs ?? []),
  ]);
  cleanup.add(() => server.stop());
  const client = new TesseraClient({ address: server.address, timeoutMillis: 60_000 });
  cleanup.add(() => client.close());
  const parsed = parseRepository([{ path: 'feast.yaml', text: feastViewsYaml(config.shape) }]);
  if (!parsed.definitions || parsed.problems.length > 0) throw new Error(formatProblems(parsed.problems));
  await client.apply(parsed.definitions, { author: 'bench' });
  for (let i = 0; i < config.shape.views; i += 1) {
    await execFileAsync(
      process.execPath,
      [
        CLI_BIN,
        '--server',
        server.address,
        'write',
        `fv_${i}`,
        join(parquetDir, `latest_${i}.parquet`),
        '--target',
        'online',
      ],
      { cwd: REPO_ROOT, timeout: 300_000 },
    );
  }
  return {
    repo,
    parquetDir,
    chdbDir,
    prepared,
    loadedRows: loaded.rows,
    loadSeconds: loaded.millis / 1000,
    server,
    client,
  };
}

/** Process groups of `feast serve` still running: killed when this process exits, however it exits. */
const feastGroups = new Set<number>();
process.on('exit', () => {
  for (const group of feastGroups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
// Ctrl-C or a SIGTERM would end this process without 'exit' handlers: turn them into an exit.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** A running `feast serve`. */
export interface FeastServe {
  /** `http://127.0.0.1:<port>`: what a remote online store's `path` takes. */
  readonly baseUrl: string;
  /** `<baseUrl>/get-online-features`. */
  readonly url: string;
  readonly pid: number;
  /** SIGTERM to its process group, SIGKILL after 10 s. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts `feast serve` (HTTP, one worker) on a free loopback port and waits until it answers `probe`. */
export async function startFeastServe(venvBin: string, repo: string, probe: unknown): Promise<FeastServe> {
  const port = await freePort();
  const feast = join(venvBin, 'feast');
  // gunicorn restarts its worker every 1,000 requests by default: latency spikes under load.
  const child = spawn(
    feast,
    ['-c', repo, 'serve', '-h', '127.0.0.1', '-p', String(port), '--no-access-log', '--max-requests', '0'],
    {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, PATH: `${venvBin}:${process.env.PATH ?? ''}` },
    },
  );
  feastGroups.add(child.pid as number);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const url = `${baseUrl}/get-online-features`;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(-(child.pid as number), 'SIGTERM');
        const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), FEAST_SERVE_STOP_MILLIS);
        await exited;
        clearTimeout(timer);
      }
      feastGroups.delete(child.pid as number);
    })();
    return stopped;
  };
  const deadline = Date.now() + FEAST_SERVE_START_MILLIS;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`feast serve exited (${child.exitCode}):\n${output}`);
    }
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: JSON.stringify(probe),
        signal: AbortSignal.timeout(10_000),
      });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`feast serve did not answer within ${FEAST_SERVE_START_MILLIS / 1000} s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return { baseUrl, url, pid: child.pid as number, stop };
}
