// A Feast user's SDK call, `FeatureStore.get_online_features(...).to_dict()` (the version
// bench/feast/requirements.txt pins), through three online stores on the same data in one run:
// - `online_store: {type: remote}` pointed at Tessera's Feast HTTP endpoints (`tessera serve
//   --redis-cluster … --feast-http-port 0`);
// - the same `remote` store pointed at `feast serve` (Feast's own Python feature server, reading
//   Feast's Redis online store in the same Redis Cluster);
// - the repository's own Redis online store, read in the SDK's process: the floor of a Feast user with
//   no server at all.
// Both remote configurations differ only in `path`, so the caller is byte for byte the same SDK code
// and the HTTP + JSON work on the client side is the same: the ratio feast serve / Tessera isolates the
// servers. The data and the setup are bench/feast.ts's (bench/support/feast-setup.ts); the answers are
// checked equal across the three stores before any timing (bench/feast/feast_bench.py `remote`), then
// one call in flight, the stores taking turns in shuffled blocks. How to run it and the columns:
// bench/README.md.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cleanup } from './support/cleanup.js';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import { ensureFeast, feastBench, prepareFeastComparison, startFeastServe } from './support/feast-setup.js';
import { FEAST_JOIN_KEY, type FeastShape } from './support/feast-views.js';
import {
  feastRemoteHttpMarkdownTable,
  feastRemoteMarkdownTable,
  percentileRatio,
  type FeastRemoteCaseResult,
} from './support/feast-remote-report.js';
import type { LatencySummary } from './support/latency.js';
import { nodeList, redisNodes } from './support/redis-nodes.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_OUT_DIR = join(REPO_ROOT, 'bench/results');

interface RunConfig {
  readonly mode: 'full' | 'smoke';
  readonly entities: number;
  readonly rowsPerView: number;
  /** 3 views × 10 features: 100×30 reads every feature of every view. */
  readonly shape: FeastShape;
  readonly shapes: readonly string[];
  /** Samples per store per shape at most. */
  readonly calls: number;
  readonly blockCalls: number;
  /** Unmeasured calls per store before each shape. */
  readonly warmup: number;
  /** Wall-clock budget of one shape's measuring, seconds. */
  readonly maxShapeSeconds: number;
  /** Distinct prepared requests per shape. */
  readonly batches: number;
  /** Requests whose answers are compared across the three stores before timing. */
  readonly checkBatches: number;
}

// TTL of ten years: the data's event times (2025) are within it, so every store serves every value
// PRESENT (Tessera answers OUTSIDE_MAX_AGE past the TTL where Feast's stores do not, on purpose).
const FULL: RunConfig = {
  mode: 'full',
  entities: 10_000,
  rowsPerView: 20_000,
  shape: { views: 3, features: 10, ttlDays: 3650 },
  shapes: ['1x10', '10x10', '100x10', '100x30'],
  calls: 1_500,
  blockCalls: 50,
  warmup: 50,
  maxShapeSeconds: 90,
  batches: 64,
  checkBatches: 8,
};
const SMOKE: RunConfig = {
  mode: 'smoke',
  entities: 200,
  rowsPerView: 400,
  shape: { views: 3, features: 10, ttlDays: 3650 },
  shapes: ['1x10', '10x30'],
  calls: 40,
  blockCalls: 10,
  warmup: 3,
  maxShapeSeconds: 20,
  batches: 8,
  checkBatches: 2,
};

function log(message: string): void {
  console.error(`bench: ${message}`);
}

interface RemoteOutput {
  readonly feast: string;
  readonly python: string;
  readonly shapes: readonly {
    id: string;
    entities: number;
    features: number;
    rounds: number;
    seconds: number;
    check: FeastRemoteCaseResult['check'];
    stores: Record<'tessera' | 'feast_serve' | 'in_process' | 'tessera_http' | 'feast_serve_http', LatencySummary>;
  }[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      'redis-cluster': { type: 'string' },
    },
    strict: true,
  });
  const config = values.smoke ? SMOKE : FULL;
  const outDir = values.out ?? DEFAULT_OUT_DIR;
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const cleanup = new Cleanup();
  let output: RemoteOutput;
  let prepare: Record<string, unknown>;
  try {
    const python = await ensureFeast(log);
    const nodes = nodeList(await redisNodes(values['redis-cluster'], cleanup));
    const dir = await mkdtemp(join(tmpdir(), 'tessera-feast-remote-'));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const data = await prepareFeastComparison({
      python,
      nodes,
      dir,
      config,
      serverArgs: ['--feast-http-port', '0'],
      cleanup,
      log,
    });
    prepare = { feast: data.prepared, tessera: { rows: data.loadedRows, loadSeconds: data.loadSeconds } };
    const tesseraUrl = data.server.feastUrl;
    if (tesseraUrl === undefined) throw new Error('tessera serve printed no "Feast HTTP endpoints on" line');
    const feastServe = await startFeastServe(dirname(python), data.repo, {
      features: ['fv_0:f0'],
      entities: { [FEAST_JOIN_KEY]: [0] },
    });
    cleanup.add(() => feastServe.stop());
    log(`remote stores: Tessera ${tesseraUrl} (pid ${data.server.pid}), feast serve ${feastServe.baseUrl}`);
    output = await feastBench<RemoteOutput>(
      python,
      [
        'remote',
        '--repo',
        data.repo,
        '--tessera-url',
        tesseraUrl,
        '--feast-url',
        feastServe.baseUrl,
        '--entities',
        String(config.entities),
        '--shapes',
        config.shapes.join(','),
        '--calls',
        String(config.calls),
        '--block-calls',
        String(config.blockCalls),
        '--max-seconds',
        String(config.maxShapeSeconds),
        '--warmup',
        String(config.warmup),
        '--batches',
        String(config.batches),
        '--check-batches',
        String(config.checkBatches),
      ],
      // Measuring is bounded per shape; checks, warm-up and Feast's start-up come on top.
      (config.shapes.length * (config.maxShapeSeconds + 60) + 120) * 1_000,
    );
  } finally {
    await cleanup.run();
  }

  const cases: FeastRemoteCaseResult[] = output.shapes.map((shape) => ({
    id: shape.id,
    entities: shape.entities,
    features: shape.features,
    tessera: shape.stores.tessera,
    feastServe: shape.stores.feast_serve,
    inProcess: shape.stores.in_process,
    http: { tessera: shape.stores.tessera_http, feastServe: shape.stores.feast_serve_http },
    ratios: {
      feastServeOverTessera: percentileRatio(shape.stores.feast_serve, shape.stores.tessera),
      tesseraOverInProcess: percentileRatio(shape.stores.tessera, shape.stores.in_process),
      httpFeastServeOverTessera: percentileRatio(shape.stores.feast_serve_http, shape.stores.tessera_http),
    },
    rounds: shape.rounds,
    check: shape.check,
  }));
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['tsx', 'bench/feast-remote.ts', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(loadAverageAtStart, { feast: output.feast, python: output.python }),
    git: gitState(REPO_ROOT),
    config: {
      ...config,
      call: 'FeatureStore.get_online_features(features=refs, entity_rows=[{entity_id: k}, …], full_feature_names=True).to_dict()',
      stores: {
        tessera: 'online_store {type: remote, path: <tessera serve --redis-cluster … --feast-http-port 0>}',
        feastServe: 'online_store {type: remote, path: <feast serve, one worker, on the Redis online store>}',
        inProcess: 'online_store {type: redis, redis_type: redis_cluster}, read in the SDK process',
      },
      http: 'the body the remote store sends, POSTed with requests.Session (keep-alive), answer read, not parsed',
      transport: 'HTTP/1.1 + JSON over loopback (remote), one call in flight, interleaved blocks in one Python process',
    },
    prepare,
    cases,
  };
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `feast-remote-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(
    `\`${report.command}\` — ${report.machine.cpus} × ${report.machine.cpuModel}, Feast ${output.feast}, Python ${output.python}\n`,
  );
  console.log(feastRemoteMarkdownTable(cases));
  console.log('');
  console.log(feastRemoteHttpMarkdownTable(cases));
  console.log(`\nAll times in ms. Full results: ${file}`);
}

await main();
