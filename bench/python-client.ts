// The Python client's own cost on online reads: `tessera_client.Client.get_online_features` against
// the same GetOnlineFeatures request through the raw generated grpcio stub, on one `tessera serve`
// (embedded store), one call in flight, measured interleaved inside one Python process so machine
// noise lands on both alike. The ratio client / raw is what the client's conveniences cost (building
// the request from Python lists, the retry wrapper, decoding every value and status into Python
// objects); both share grpcio, protobuf and the server. How to run it and the columns: bench/README.md.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { TesseraClient } from '@tessera/client';
import { ensurePythonVenv } from '@tessera/testkit';
import { JOIN_KEY, RANDOM_SEED, benchDefinitions, featureName, populationIds } from './support/dataset.js';
import { requestBatches, seededRandom, viewName, writeViews } from './support/dataset.js';
import { Cleanup } from './support/cleanup.js';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import type { LatencySummary } from './support/latency.js';
import { pythonClientMarkdownTable, type PythonClientCaseResult } from './support/python-client-report.js';
import { startServerProcess } from './support/server-process.js';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/tessera.js');
const BENCH_DIR = join(REPO_ROOT, 'bench/python-client');
const CLIENT_DIR = join(REPO_ROOT, 'clients/python');
const DEFAULT_OUT_DIR = join(REPO_ROOT, 'bench/results');
const PIP_TIMEOUT_MILLIS = 10 * 60_000;

/** The shapes: one entity and a hundred, ten features each. */
const SHAPES = [
  { entities: 1, features: 10 },
  { entities: 100, features: 10 },
] as const;
const FEATURES = 10;

interface RunConfig {
  readonly mode: 'full' | 'smoke';
  readonly populationSize: number;
  /** Distinct prepared requests per shape, used in turn. */
  readonly requestsPerShape: number;
  readonly warmupCalls: number;
  /** Samples per contender per shape at most. */
  readonly calls: number;
  readonly blockCalls: number;
  /** Wall-clock budget of one shape's measuring, seconds. */
  readonly maxCaseSeconds: number;
}

const FULL: RunConfig = {
  mode: 'full',
  populationSize: 10_000,
  requestsPerShape: 64,
  warmupCalls: 200,
  calls: 3_000,
  blockCalls: 50,
  maxCaseSeconds: 120,
};
const SMOKE: RunConfig = {
  mode: 'smoke',
  populationSize: 300,
  requestsPerShape: 8,
  warmupCalls: 5,
  calls: 60,
  blockCalls: 10,
  maxCaseSeconds: 10,
};

function log(message: string): void {
  console.error(`bench: ${message}`);
}

/**
 * A Python with the client of this checkout importable: the pinned dependencies in a cached venv
 * (`<tessera cache>/python-client-bench-venv-<digest>`), and `pip install --no-deps
 * --no-build-isolation --target <dir> ./clients/python` (stubs generated from proto/ as they stand)
 * into a temporary folder put on PYTHONPATH, so the shared venv never holds one checkout's client.
 */
async function installClient(dir: string): Promise<{ python: string; pythonPath: string }> {
  const python = await ensurePythonVenv({
    name: 'python-client-bench',
    requirements: await readFile(join(BENCH_DIR, 'requirements.txt'), 'utf8'),
    log,
  });
  const target = join(dir, 'site');
  try {
    await execFileAsync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-compile',
        '--no-deps',
        '--no-build-isolation',
        '--target',
        target,
        CLIENT_DIR,
      ],
      { cwd: REPO_ROOT, timeout: PIP_TIMEOUT_MILLIS, maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`pip install ./clients/python failed:\n${stdout}\n${stderr}`.slice(-4_000), { cause: error });
  }
  return { python, pythonPath: target };
}

interface PythonOutput {
  readonly python: string;
  readonly grpcio: string;
  readonly shapes: readonly { id: string; rounds: number; client: LatencySummary; raw: LatencySummary }[];
}

/** Runs python_client_bench.py with `spec` on stdin; its stdout is one JSON object. */
function runPython(python: string, pythonPath: string, spec: unknown, timeoutMillis: number): Promise<PythonOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [join(BENCH_DIR, 'python_client_bench.py')], {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONPATH: pythonPath, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMillis);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`python_client_bench.py exited (${String(code ?? signal)}):\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as PythonOutput);
      } catch (error) {
        reject(
          new Error(`python_client_bench.py printed no JSON:\n${stdout.slice(0, 2_000)}\n${stderr}`, { cause: error }),
        );
      }
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { smoke: { type: 'boolean', default: false }, out: { type: 'string' } },
    strict: true,
  });
  const config = values.smoke ? SMOKE : FULL;
  const outDir = values.out ?? DEFAULT_OUT_DIR;
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const ids = populationIds(config.populationSize);
  const cleanup = new Cleanup();
  let output: PythonOutput;
  try {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-python-client-'));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const { python, pythonPath } = await installClient(dir);
    const server = await startServerProcess(CLI_BIN, ['--data-dir', join(dir, 'data')]);
    cleanup.add(() => server.stop());
    const writer = new TesseraClient({ address: server.address, timeoutMillis: 30_000 });
    try {
      await writer.apply(benchDefinitions([FEATURES]), { author: 'bench' });
      await writeViews(writer, ids, [FEATURES], 2_000);
    } finally {
      writer.close();
    }
    log(`python client vs raw stub: server pid ${server.pid} on ${server.address}, ${ids.length} entities`);
    const refs = Array.from({ length: FEATURES }, (_, f) => `${viewName(FEATURES)}:${featureName(f)}`);
    const spec = {
      address: server.address,
      refs,
      join_key: JOIN_KEY,
      seed: RANDOM_SEED,
      warmup_calls: config.warmupCalls,
      calls: config.calls,
      block_calls: config.blockCalls,
      max_case_seconds: config.maxCaseSeconds,
      shapes: SHAPES.map((shape) => ({
        id: `${shape.entities}x${shape.features}`,
        batches: requestBatches(
          ids,
          shape.entities,
          config.requestsPerShape,
          seededRandom(RANDOM_SEED + shape.entities * 1_000 + shape.features),
        ).map((batch) => batch.map(Number)),
      })),
    };
    output = await runPython(python, pythonPath, spec, (SHAPES.length * config.maxCaseSeconds + 120) * 1_000);
  } finally {
    await cleanup.run();
  }

  const cases: PythonClientCaseResult[] = output.shapes.map((shape, k) => {
    const { entities, features } = SHAPES[k] as (typeof SHAPES)[number];
    return {
      id: shape.id,
      entities,
      features,
      client: shape.client,
      raw: shape.raw,
      ratio: { p50: shape.client.p50Millis / shape.raw.p50Millis, p99: shape.client.p99Millis / shape.raw.p99Millis },
      rounds: shape.rounds,
    };
  });
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['tsx', 'bench/python-client.ts', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(loadAverageAtStart, { python: output.python, grpcio: output.grpcio }),
    git: gitState(REPO_ROOT),
    config: {
      ...config,
      store: 'embedded (LMDB under a temporary --data-dir), one `tessera serve` child process',
      featureTypes: 'per 10 features: 6 double, 2 int64, 1 string, 1 bool',
      client: 'tessera_client.Client.get_online_features(refs, {customer_id: ids}), dict result (no DataFrame)',
      raw: 'serving_pb2_grpc.FeatureStoreStub.GetOnlineFeatures(request, timeout=30), requests built before measuring, reply not decoded',
      transport:
        'plaintext gRPC over loopback, one channel each, one call in flight, interleaved blocks in one Python process',
    },
    cases,
  };
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `python-client-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(
    `\`${report.command}\` — ${report.machine.cpus} × ${report.machine.cpuModel}, Python ${output.python}, grpcio ${output.grpcio}\n`,
  );
  console.log(pythonClientMarkdownTable(cases));
  console.log(`\nAll times in ms. Full results: ${file}`);
}

await main();
