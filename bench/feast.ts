// Tessera beside Feast on the same machine, data and Redis Cluster, in one run (see bench/README.md):
// - data: bench/feast/feast_bench.py writes the Parquet files (a deterministic function of the row
//   number), defines the same views for Feast (Redis online store in redis_cluster mode, DuckDB
//   offline store) and runs `feast materialize`; Tessera's tables are filled from the same Parquet
//   files (bench/support/feast-child.ts) and its online store gets the same latest rows;
// - online, one call at a time from each SDK: Feast's Python `get_online_features` (in process,
//   straight to Redis) and Tessera's TypeScript client (gRPC to `tessera serve --redis-cluster`);
// - online, under load: a closed loop with the same number of requests in flight and duration against
//   Feast's feature server (`feast serve`, HTTP, driven by vegeta) and Tessera's (gRPC, driven by ghz);
// - training sets: Feast's `get_historical_features(...).to_arrow()` and Tessera's GetHistorical
//   (runHistorical on chDB, Arrow chunks) over the same entity rows; the training sets must agree on
//   the NULL count and the sum of the first feature.
// Feast is installed by this script into a venv in the per-user cache, outside the checkout
// (`~/.cache/tessera/feast-venv-<digest>`, pinned in bench/feast/requirements.txt).
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { toColumn } from '@tessera/client';
import { GetOnlineFeaturesRequest } from '@tessera/proto';
import { ensureTool } from '@tessera/testkit';
import { Cleanup } from './support/cleanup.js';
import { nodeList, redisNodes } from './support/redis-nodes.js';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import { FEAST_JOIN_KEY, type FeastShape } from './support/feast-views.js';
import {
  JSON_HEADERS,
  ensureFeast,
  feastBench,
  prepareFeastComparison,
  startFeastServe,
} from './support/feast-setup.js';
import { compareTrainingSet, trainingSetData, type HistoricalEntry } from './support/feast-historical.js';
import { summarize } from './support/latency.js';
import { runGhz } from './support/ghz.js';
import { GHZ, VEGETA } from './support/load-tools.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const execFileAsync = promisify(execFile);

interface Config {
  readonly entities: number;
  readonly rowsPerView: number;
  readonly shape: FeastShape;
  /** `<entities>x<features>` of the online comparisons. */
  readonly onlineShapes: readonly string[];
  readonly sdkCalls: number;
  readonly sdkMaxSeconds: number;
  readonly warmup: number;
  /** Requests in flight in the servers' closed loops (ghz workers, vegeta workers). */
  readonly serveConcurrency: number;
  readonly serveSeconds: number;
  readonly serveRepetitions: number;
  readonly entityRowCounts: readonly number[];
}

const FULL: Config = {
  entities: 50_000,
  rowsPerView: 500_000,
  shape: { views: 3, features: 10, ttlDays: 3650 },
  onlineShapes: ['1x10', '10x10', '100x10', '100x30'],
  sdkCalls: 2_000,
  sdkMaxSeconds: 6,
  warmup: 50,
  serveConcurrency: 8,
  serveSeconds: 4,
  serveRepetitions: 2,
  entityRowCounts: [100_000, 1_000_000],
};
const SMOKE: Config = {
  entities: 200,
  rowsPerView: 1_000,
  shape: { views: 3, features: 10, ttlDays: 3650 },
  onlineShapes: ['10x10'],
  sdkCalls: 30,
  sdkMaxSeconds: 2,
  warmup: 5,
  serveConcurrency: 2,
  serveSeconds: 1,
  serveRepetitions: 2,
  entityRowCounts: [500],
};

function log(message: string): void {
  console.error(`bench: ${message}`);
}

/** CPU seconds and RSS of a process and all its descendants (feast serve runs workers). */
function treeUsage(root: number): { cpuSeconds: number; rssBytes: number } {
  const parents = new Map<number, number>();
  const stats = new Map<number, string[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(fields[1]));
      stats.set(Number(name), fields);
    } catch {
      // the process ended while we looked
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parents.get(p)) if (p === root) return true;
    return false;
  };
  let cpuSeconds = 0;
  let rssBytes = 0;
  for (const [pid, fields] of stats) {
    if (!inTree(pid)) continue;
    cpuSeconds += (Number(fields[11]) + Number(fields[12])) / 100;
    rssBytes += Number(fields[21]) * 4096;
  }
  return { cpuSeconds, rssBytes };
}

interface Shape {
  readonly id: string;
  readonly entities: number;
  readonly features: number;
}

function parseShape(id: string): Shape {
  const [entities, features] = id.split('x').map(Number);
  return { id, entities: entities ?? 1, features: features ?? 10 };
}

/** Feature refs of a shape: fv_0's features first, then fv_1's, … (as feast_bench.py takes them). */
function featureRefs(shape: Shape, config: Config): string[] {
  return Array.from(
    { length: shape.features },
    (_, k) => `fv_${Math.floor(k / config.shape.features)}:f${k % config.shape.features}`,
  );
}

/** Deterministic entity batches (a multiplicative hash of the call number). */
function entityBatch(call: number, size: number, population: number): number[] {
  return Array.from({ length: size }, (_, j) => Number((BigInt(call * size + j) * 2654435761n) % BigInt(population)));
}

interface LoopFigures {
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
  readonly p50Millis: number;
  readonly p99Millis: number;
  readonly maxMillis: number;
  readonly serverCpuCores: number;
  readonly serverRssBytes: number;
}

/** Repetitions as one figure: mean throughput and cores, the worst latencies, the largest RSS. */
function combineLoops(runs: readonly LoopFigures[]): LoopFigures {
  const mean = (pick: (f: LoopFigures) => number): number =>
    runs.reduce((total, f) => total + pick(f), 0) / Math.max(runs.length, 1);
  const worst = (pick: (f: LoopFigures) => number): number => Math.max(...runs.map(pick));
  return {
    requests: runs.reduce((total, f) => total + f.requests, 0),
    errors: runs.reduce((total, f) => total + f.errors, 0),
    rps: mean((f) => f.rps),
    p50Millis: worst((f) => f.p50Millis),
    p99Millis: worst((f) => f.p99Millis),
    maxMillis: worst((f) => f.maxMillis),
    serverCpuCores: mean((f) => f.serverCpuCores),
    serverRssBytes: worst((f) => f.serverRssBytes),
  };
}

/** Runs `measure` and adds the server's CPU (process tree) over that time and its RSS after it. */
async function withServerUsage(
  serverPid: number,
  measure: () => Promise<Omit<LoopFigures, 'serverCpuCores' | 'serverRssBytes'>>,
): Promise<LoopFigures> {
  const before = treeUsage(serverPid);
  const started = performance.now();
  const figures = await measure();
  const elapsed = (performance.now() - started) / 1000;
  const after = treeUsage(serverPid);
  return {
    ...figures,
    serverCpuCores: (after.cpuSeconds - before.cpuSeconds) / elapsed,
    serverRssBytes: after.rssBytes,
  };
}

/** ghz closed loop against Tessera: `concurrency` workers, one connection each, taking the bodies in turn. */
async function ghzClosedLoop(
  bin: string,
  address: string,
  bodies: readonly unknown[],
  concurrency: number,
  seconds: number,
  serverPid: number,
): Promise<LoopFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-ghz-feast-'));
  try {
    const file = join(dir, 'bodies.json');
    await writeFile(file, JSON.stringify(bodies));
    return await withServerUsage(serverPid, () =>
      runGhz({
        bin,
        address,
        call: 'tessera.v1.FeatureStore.GetOnlineFeatures',
        data: { file },
        concurrency,
        connections: concurrency,
        seconds,
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The fields of `vegeta report -type=json` read here (latencies in nanoseconds). */
interface VegetaReport {
  latencies: Record<'50th' | '95th' | '99th' | 'max', number>;
  requests: number;
  rate: number;
  status_codes: Record<string, number> | null;
}

/**
 * vegeta closed loop against `feast serve`: `-rate=0` (no pacing) with exactly `concurrency` workers,
 * each sending its next POST when the previous one is answered, taking the bodies in turn.
 */
async function vegetaClosedLoop(
  bin: string,
  url: string,
  bodies: readonly unknown[],
  concurrency: number,
  seconds: number,
  serverPid: number,
): Promise<LoopFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-vegeta-feast-'));
  try {
    const targets = join(dir, 'targets.jsonl');
    const results = join(dir, 'results.bin');
    await writeFile(
      targets,
      bodies
        .map((body) =>
          JSON.stringify({
            method: 'POST',
            url,
            header: { 'Content-Type': ['application/json'] },
            body: Buffer.from(JSON.stringify(body)).toString('base64'),
          }),
        )
        .join('\n') + '\n',
    );
    return await withServerUsage(serverPid, async () => {
      await execFileAsync(
        bin,
        [
          'attack',
          '-format=json',
          `-targets=${targets}`,
          '-rate=0',
          `-workers=${concurrency}`,
          `-max-workers=${concurrency}`,
          `-duration=${seconds}s`,
          `-output=${results}`,
        ],
        { timeout: (seconds + 90) * 1000, maxBuffer: 16 * 1024 * 1024 },
      );
      const { stdout } = await execFileAsync(bin, ['report', '-type=json', results], {
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      const report = JSON.parse(stdout) as VegetaReport;
      const ok = report.status_codes?.['200'] ?? 0;
      return {
        requests: report.requests,
        errors: report.requests - ok,
        rps: report.rate,
        p50Millis: report.latencies['50th'] / 1e6,
        p99Millis: report.latencies['99th'] / 1e6,
        maxMillis: report.latencies.max / 1e6,
      };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface FeastOnline {
  shapes: { shape: string; calls: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number }[];
}
/** Feast's limit in `--only historical` unless `--feast-timeout-seconds` says otherwise. */
const HISTORICAL_ONLY_LIMIT_SECONDS = 600;
/** Largest rows per view and entity rows `--only historical` accepts (disk and time are bounded). */
const MAX_ROWS_PER_VIEW = 50_000_000;
const MAX_ENTITY_ROWS = 10_000_000;

function positiveInteger(option: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(value) || value <= 0 || value > max)
    throw new Error(`${option}: '${text}' is not a whole number from 1 to ${max}`);
  return value;
}

function integerList(option: string, text: string | undefined, fallback: readonly number[], max: number): number[] {
  if (text === undefined) return [...fallback];
  const values = text.split(',').map((part) => positiveInteger(option, part.trim(), max));
  if (values.length === 0 || values.length > 8) throw new Error(`${option}: 1 to 8 sizes, comma-separated`);
  return values;
}

/** Sizes of `--only historical` (full, and `--smoke`). */
const TRAINING_SETS = {
  full: { rowsPerView: [1_000_000, 10_000_000], entityRows: [100_000] },
  smoke: { rowsPerView: [1_000, 2_000], entityRows: [500] },
} as const;

/**
 * `--only historical`: training sets only, for each rows-per-view size (data prepared once per size and
 * cached in `cacheDir`), each entity-rows size, Feast under `limitSeconds` (killed past it and recorded
 * as not finished). No Redis, no servers: Feast's repository has a SQLite online store it never uses.
 */
async function trainingSetsOnly(options: {
  readonly smoke: boolean;
  readonly out: string;
  readonly cacheDir: string;
  readonly rowsPerView: string | undefined;
  readonly entityRows: string | undefined;
  readonly limitSeconds: number;
}): Promise<void> {
  const sizes = options.smoke ? TRAINING_SETS.smoke : TRAINING_SETS.full;
  const config = {
    only: 'historical',
    entities: options.smoke ? SMOKE.entities : FULL.entities,
    shape: FULL.shape,
    rowsPerViewSizes: integerList('--rows-per-view', options.rowsPerView, sizes.rowsPerView, MAX_ROWS_PER_VIEW),
    entityRowCounts: integerList('--entity-rows', options.entityRows, sizes.entityRows, MAX_ENTITY_ROWS),
    feastTimeoutSeconds: options.limitSeconds,
  };
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const python = await ensureFeast(log);
  const prepare: Record<string, unknown>[] = [];
  const historical: HistoricalEntry[] = [];
  for (const rowsPerView of config.rowsPerViewSizes) {
    const data = await trainingSetData({
      python,
      cacheDir: options.cacheDir,
      entities: config.entities,
      rowsPerView,
      shape: config.shape,
      log,
    });
    prepare.push({ rowsPerView, cached: data.cached, ...data.prepared });
    for (const entityRows of config.entityRowCounts) {
      const entry = await compareTrainingSet({
        python,
        repo: data.repo,
        chdbDir: data.chdbDir,
        shape: config.shape,
        entities: config.entities,
        rowsPerView,
        entityRows,
        limitSeconds: config.feastTimeoutSeconds,
        log,
      });
      historical.push(entry);
      if (entry.agree === false) process.exitCode = 1;
    }
  }
  const first = prepare[0]?.['feast'];
  const feastVersion = typeof first === 'string' ? first : '';
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['tsx', 'bench/feast.ts', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(loadAverageAtStart, { feast: feastVersion }),
    git: gitState(REPO_ROOT),
    config,
    prepare,
    online: [],
    serve: [],
    historical,
  };
  await mkdir(options.out, { recursive: true });
  // Its own prefix: the report's Feast section (online, servers) reads the newest `feast-<stamp>` file.
  const file = join(options.out, `feast-historical-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(`Full results: ${file}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string', default: join(REPO_ROOT, 'bench/results') },
      'redis-cluster': { type: 'string' },
      only: { type: 'string' },
      'rows-per-view': { type: 'string' },
      'entity-rows': { type: 'string' },
      'feast-timeout-seconds': { type: 'string' },
      'cache-dir': { type: 'string', default: join(REPO_ROOT, '.cache/bench-feast') },
    },
  });
  const limitText = values['feast-timeout-seconds'];
  const feastLimitSeconds = limitText === undefined ? null : positiveInteger('--feast-timeout-seconds', limitText);
  if (values.only !== undefined) {
    if (values.only !== 'historical') throw new Error(`--only: only 'historical' is known, not '${values.only}'`);
    await trainingSetsOnly({
      smoke: values.smoke,
      out: values.out,
      cacheDir: values['cache-dir'],
      rowsPerView: values['rows-per-view'],
      entityRows: values['entity-rows'],
      limitSeconds: feastLimitSeconds ?? HISTORICAL_ONLY_LIMIT_SECONDS,
    });
    return;
  }
  const config = values.smoke ? SMOKE : FULL;
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const cleanup = new Cleanup();
  const online: Record<string, unknown>[] = [];
  const serve: Record<string, unknown>[] = [];
  const historical: HistoricalEntry[] = [];
  let prepare: Record<string, unknown> = {};
  let feastVersion = '';
  try {
    const python = await ensureFeast(log);
    const ghzBin = await ensureTool(GHZ);
    const vegetaBin = await ensureTool(VEGETA);
    const nodes = nodeList(await redisNodes(values['redis-cluster'], cleanup));
    const dir = await mkdtemp(join(tmpdir(), 'tessera-feast-'));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const data = await prepareFeastComparison({ python, nodes, dir, config, cleanup, log });
    const { repo, chdbDir, server, client } = data;
    feastVersion = data.prepared.feast;
    prepare = { feast: data.prepared, tessera: { rows: data.loadedRows, loadSeconds: data.loadSeconds } };

    // Online, one call at a time, each SDK.
    const shapes = config.onlineShapes.map(parseShape);
    const feastSdk = await feastBench<FeastOnline>(
      python,
      [
        'online',
        '--repo',
        repo,
        '--entities',
        String(config.entities),
        '--shapes',
        config.onlineShapes.join(','),
        '--calls',
        String(config.sdkCalls),
        '--max-seconds',
        String(config.sdkMaxSeconds),
        '--warmup',
        String(config.warmup),
      ],
      30 * 60_000,
    );
    for (const shape of shapes) {
      const features = featureRefs(shape, config);
      const latencies: number[] = [];
      const deadline = performance.now() + config.sdkMaxSeconds * 1000;
      for (let call = -config.warmup; call < config.sdkCalls && performance.now() < deadline; call += 1) {
        const batch = entityBatch(call + config.warmup, shape.entities, config.entities).map(BigInt);
        const started = performance.now();
        await client.getOnlineFeatures({ features, entities: { [FEAST_JOIN_KEY]: batch } });
        if (call >= 0) latencies.push(performance.now() - started);
      }
      const tessera = summarize(latencies);
      const feast = feastSdk.shapes.find((s) => s.shape === shape.id);
      const ratio = feast === undefined ? null : feast.p99Ms / Math.max(tessera.p99Millis, 1e-9);
      online.push({ shape: shape.id, tessera, feast, feastP99OverTessera: ratio });
      log(
        `SDK ${shape.id}: Tessera p50/p99 ${tessera.p50Millis.toFixed(2)}/${tessera.p99Millis.toFixed(2)} ms, ` +
          `Feast ${feast?.p50Ms.toFixed(2) ?? '—'}/${feast?.p99Ms.toFixed(2) ?? '—'} ms`,
      );
    }

    // Online under load: each feature server, the same closed loop (vegeta for HTTP, ghz for gRPC).
    const firstShape = shapes[0] as Shape;
    const probe = {
      features: featureRefs(firstShape, config),
      entities: { [FEAST_JOIN_KEY]: entityBatch(0, firstShape.entities, config.entities) },
      full_feature_names: true,
    };
    const feastServe = await startFeastServe(dirname(python), repo, probe);
    cleanup.add(() => feastServe.stop());
    // The same values from both servers (a sample of entities of the first view).
    const sample = entityBatch(1, 20, config.entities);
    const sampleFeatures = featureRefs({ id: 'check', entities: 20, features: config.shape.features }, config);
    const feastAnswer = (await (
      await fetch(feastServe.url, {
        method: 'POST',
        headers: JSON_HEADERS,
        signal: AbortSignal.timeout(30_000),
        body: JSON.stringify({
          features: sampleFeatures,
          entities: { [FEAST_JOIN_KEY]: sample },
          full_feature_names: true,
        }),
      })
    ).json()) as { metadata: { feature_names: string[] }; results: { values: (number | null)[] }[] };
    const tesseraAnswer = await client.getOnlineFeatures({
      features: sampleFeatures,
      entities: { [FEAST_JOIN_KEY]: sample.map(BigInt) },
    });
    const mismatches = sampleFeatures.filter((ref, k) => {
      const position = feastAnswer.metadata.feature_names.indexOf(ref.replace(':', '__'));
      const theirs = feastAnswer.results[position]?.values ?? [];
      const ours = tesseraAnswer.values[k] ?? [];
      // Every sampled entity has rows: a NULL on both sides would be a miss, not agreement.
      return sample.some((_, row) => theirs[row] !== ours[row] || typeof ours[row] !== 'number');
    });
    if (mismatches.length > 0) throw new Error(`Feast and Tessera serve different values for ${mismatches.join(', ')}`);
    log(`both servers return the same values for ${sample.length} entities × ${sampleFeatures.length} features`);

    for (const shape of shapes) {
      const features = featureRefs(shape, config);
      const batches = Array.from({ length: 64 }, (_, call) => entityBatch(call, shape.entities, config.entities));
      // Full names (fv_0__f0): views share feature names, as Tessera's output names them.
      const feastBodies = batches.map((batch) => ({
        features,
        entities: { [FEAST_JOIN_KEY]: batch },
        full_feature_names: true,
      }));
      const tesseraBodies = batches.map((batch) =>
        GetOnlineFeaturesRequest.toJSON(
          GetOnlineFeaturesRequest.fromPartial({
            features,
            entities: { [FEAST_JOIN_KEY]: toColumn('int64', batch.map(BigInt)) },
          }),
        ),
      );
      // Taking turns, twice each: a burst of machine noise lands on both, and the spread shows.
      const feastRuns: LoopFigures[] = [];
      const tesseraRuns: LoopFigures[] = [];
      for (let r = 0; r < config.serveRepetitions; r += 1) {
        feastRuns.push(
          await vegetaClosedLoop(
            vegetaBin,
            feastServe.url,
            feastBodies,
            config.serveConcurrency,
            config.serveSeconds,
            feastServe.pid,
          ),
        );
        tesseraRuns.push(
          await ghzClosedLoop(
            ghzBin,
            server.address,
            tesseraBodies,
            config.serveConcurrency,
            config.serveSeconds,
            server.pid,
          ),
        );
      }
      const feastFigures = combineLoops(feastRuns);
      const tesseraFigures = combineLoops(tesseraRuns);
      serve.push({
        shape: shape.id,
        feast: feastFigures,
        tessera: tesseraFigures,
        feastRuns,
        tesseraRuns,
        tesseraRpsOverFeast: tesseraFigures.rps / Math.max(feastFigures.rps, 1e-9),
        // feast serve runs one worker process, Tessera one Node process: per core is the fair ratio.
        tesseraRpsPerCoreOverFeast:
          tesseraFigures.rps /
          Math.max(tesseraFigures.serverCpuCores, 1e-9) /
          Math.max(feastFigures.rps / Math.max(feastFigures.serverCpuCores, 1e-9), 1e-9),
        feastP99OverTessera: feastFigures.p99Millis / Math.max(tesseraFigures.p99Millis, 1e-9),
      });
      log(
        `serve ${shape.id}: Tessera ${Math.round(tesseraFigures.rps)} req/s p99 ${tesseraFigures.p99Millis.toFixed(2)} ms, ` +
          `Feast ${Math.round(feastFigures.rps)} req/s p99 ${feastFigures.p99Millis.toFixed(2)} ms`,
      );
    }
    await feastServe.stop();

    // Training sets over the same entity rows.
    for (const entityRows of config.entityRowCounts) {
      const entry = await compareTrainingSet({
        python,
        repo,
        chdbDir,
        shape: config.shape,
        entities: config.entities,
        rowsPerView: config.rowsPerView,
        entityRows,
        limitSeconds: feastLimitSeconds,
        log,
      });
      historical.push(entry);
      if (entry.agree === false) process.exitCode = 1;
    }
  } finally {
    await cleanup.run();
  }
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['tsx', 'bench/feast.ts', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(loadAverageAtStart, { feast: feastVersion, ghz: GHZ.version, vegeta: VEGETA.version }),
    git: gitState(REPO_ROOT),
    config,
    prepare,
    online,
    serve,
    historical,
  };
  await mkdir(values.out, { recursive: true });
  const file = join(values.out, `feast-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(`Full results: ${file}`);
}

await main();
