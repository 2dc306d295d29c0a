// Online read load with ghz against a `tessera serve` child process, in cluster mode (6-node Redis
// Cluster) or embedded (LMDB): closed-loop maximum throughput and fixed-rate (open-loop) latency at
// fractions of it, to find the knee; and the same lookups straight from the engine in this process,
// closed-loop, as the raw baseline in the same run — pipelined HMGET per master (cluster), a loop of
// LMDB gets on the server's own environment (embedded). Server CPU and peak RSS from /proc. See
// bench/README.md.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { entityKey, viewField } from '@tessera/core';
import { TesseraClient } from '@tessera/client';
import { LmdbOnlineStore } from '@tessera/online';
import { ensureTool, type RedisNodeAddress } from '@tessera/testkit';
import { Cleanup } from './support/cleanup.js';
import { nodeList, redisNodes } from './support/redis-nodes.js';
import {
  ENTITY,
  JOIN_KEY,
  RANDOM_SEED,
  benchDefinitions,
  featureName,
  populationIds,
  requestBatches,
  seededRandom,
  viewName,
  writeViews,
} from './support/dataset.js';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import { pipelinedHmget } from './support/raw-hmget.js';
import { startServerProcess } from './support/server-process.js';
import { runGhz, type LoadFigures } from './support/ghz.js';
import { GHZ } from './support/load-tools.js';
import { startCannedGrpcServer } from './support/canned-grpc-floor.js';
import { servingNodeArgs } from './support/serving-node-options.js';
import { GetOnlineFeaturesRequest, GetOnlineFeaturesResponse } from '@tessera/proto';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/tessera.js');
const execFileAsync = promisify(execFile);

interface Shape {
  readonly entities: number;
  readonly features: number;
}

interface Config {
  readonly population: number;
  readonly shapes: readonly Shape[];
  /** Requests in flight for the closed loop (ghz workers and raw loops alike). */
  readonly concurrency: number;
  readonly closedSeconds: number;
  /** Closed loops (Tessera and raw alike) run this many times each: the spread goes in the results. */
  readonly repetitions: number;
  readonly openSeconds: number;
  /** Fixed rates as fractions of the closed-loop maximum. */
  readonly rateFractions: readonly number[];
}

const FULL: Config = {
  population: 20_000,
  shapes: [
    { entities: 1, features: 10 },
    { entities: 10, features: 10 },
    { entities: 100, features: 10 },
    { entities: 1_000, features: 10 },
    { entities: 1, features: 100 },
    { entities: 10, features: 100 },
    { entities: 100, features: 100 },
    { entities: 1_000, features: 100 },
  ],
  concurrency: 16,
  closedSeconds: 5,
  repetitions: 2,
  openSeconds: 8,
  rateFractions: [0.25, 0.5, 0.75, 0.9],
};
const SMOKE: Config = {
  population: 500,
  shapes: [{ entities: 10, features: 10 }],
  concurrency: 4,
  closedSeconds: 1,
  repetitions: 2,
  openSeconds: 1,
  rateFractions: [0.5],
};

type Figures = LoadFigures;

/**
 * Repetitions of one closed loop as one figure: mean throughput, the worst of each latency (the
 * per-run figures stay in the results as the spread).
 */
function combine(runs: readonly Figures[]): Figures {
  const sum = (pick: (f: Figures) => number): number => runs.reduce((total, f) => total + pick(f), 0);
  const worst = (pick: (f: Figures) => number): number => Math.max(...runs.map(pick));
  return {
    requests: sum((f) => f.requests),
    errors: sum((f) => f.errors),
    rps: sum((f) => f.rps) / Math.max(runs.length, 1),
    p50Millis: worst((f) => f.p50Millis),
    p95Millis: worst((f) => f.p95Millis),
    p99Millis: worst((f) => f.p99Millis),
    maxMillis: worst((f) => f.maxMillis),
  };
}

/** CPU seconds (user + system) a process used so far, and its peak RSS. */
function processUsage(pid: number): { cpuSeconds: number; peakRssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuSeconds: ticks / 100, peakRssBytes: Number(hwm ?? 0) * 1024 };
}

const GET_ONLINE_FEATURES = 'tessera.v1.FeatureStore.GetOnlineFeatures';

/**
 * ghz at a constant arrival rate (`--async --rps`): open loop, so a slow server meets a growing queue,
 * not fewer requests. `dropped` counts the requests the generator did not start at the offered rate
 * (the run's target minus what it sent), which is the load generator falling behind, not the server.
 */
async function ghzOpenLoop(
  bin: string,
  address: string,
  body: string,
  rate: number,
  seconds: number,
): Promise<Figures & { dropped: number }> {
  const figures = await runGhz({
    bin,
    address,
    call: GET_ONLINE_FEATURES,
    data: { json: body },
    seconds,
    rps: rate,
    concurrency: 4,
  });
  return { ...figures, dropped: Math.max(0, Math.round(Math.max(1, Math.round(rate)) * seconds) - figures.requests) };
}

/**
 * redis-benchmark's own ceiling on the cluster: its built-in GET test (a custom command is not routed
 * by slot in cluster mode), `concurrency` clients, no pipelining.
 */
async function redisBenchmark(node: RedisNodeAddress, concurrency: number, requests: number): Promise<number> {
  const { stdout } = await execFileAsync(
    'redis-benchmark',
    [
      '--cluster',
      '-h',
      node.host,
      '-p',
      String(node.port),
      '-c',
      String(concurrency),
      '-n',
      String(requests),
      '--csv',
      '-t',
      'get',
    ],
    { timeout: 120_000 },
  );
  // "test","rps",...: the last line holds the figures.
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const rps = Number(line.split(',')[1]?.replace(/"/g, ''));
  return Number.isFinite(rps) ? rps : 0;
}

/** The five functions with the most self time in a V8 CPU profile (`--cpu-prof`), as % of busy samples. */
async function topSelfTime(profileDir: string): Promise<{ function: string; percent: number }[]> {
  const names = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'));
  const totals = new Map<string, number>();
  let all = 0;
  for (const name of names) {
    const profile = JSON.parse(await readFile(join(profileDir, name), 'utf8')) as {
      nodes: { id: number; hitCount?: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    };
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      if (hits === 0) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const where =
        url === ''
          ? ''
          : ` ${url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/^file:\/\/.*?\/(packages|services)\//, '$1/')}:${lineNumber + 1}`;
      // Idle time is not work: percentages are of the busy samples.
      if (functionName === '(idle)') continue;
      const key = `${functionName || '(anonymous)'}${where}`;
      totals.set(key, (totals.get(key) ?? 0) + hits);
      all += hits;
    }
  }
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([fn, hits]) => ({ function: fn, percent: (100 * hits) / Math.max(all, 1) }));
}

/** Reads one field of each key straight from the engine. */
type RawRead = (keys: readonly string[], field: string) => Promise<void>;

/** The raw baseline: `concurrency` loops of `read` (one field per key) for `seconds`. */
async function rawClosedLoop(
  read: RawRead,
  keySets: readonly string[][],
  field: string,
  concurrency: number,
  seconds: number,
): Promise<Figures> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const keys = keySets[next++ % keySets.length] as string[];
        const t = performance.now();
        await read(keys, field);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    requests: latencies.length,
    errors: 0,
    rps: latencies.length / elapsed,
    p50Millis: at(0.5),
    p95Millis: at(0.95),
    p99Millis: at(0.99),
    maxMillis: latencies.at(-1) ?? 0,
  };
}

function positiveInteger(text: string, option: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${option}: "${text}" is not a positive integer`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string', default: join(REPO_ROOT, 'bench/results') },
      'redis-cluster': { type: 'string' },
      mode: { type: 'string', default: 'cluster' },
      shapes: { type: 'string' },
      rates: { type: 'string' },
      profile: { type: 'boolean', default: false },
      /** Node options of the server and the gRPC floor (default: bench/support/serving-node-options.ts). */
      'server-node-options': { type: 'string' },
      /** Entities written (default: the config's); a small one keeps a server profile about reads. */
      population: { type: 'string' },
      /** Keeps the server's CPU profiles in this folder (implies --profile). */
      'profile-dir': { type: 'string' },
    },
  });
  if (values.mode !== 'cluster' && values.mode !== 'embedded') {
    throw new Error(`--mode: cluster or embedded, got "${values.mode}"`);
  }
  const mode: 'cluster' | 'embedded' = values.mode;
  const base = values.smoke ? SMOKE : FULL;
  const config: Config = {
    ...base,
    ...(values.population === undefined ? {} : { population: positiveInteger(values.population, '--population') }),
    ...(values.shapes === undefined
      ? {}
      : {
          shapes: values.shapes.split(',').map((id) => {
            const [entities, features] = id.split('x').map(Number);
            if (!Number.isSafeInteger(entities) || !Number.isSafeInteger(features)) {
              throw new Error(`--shapes: "${id}" is not <entities>x<features>`);
            }
            return { entities: entities as number, features: features as number };
          }),
        }),
    ...(values.rates === undefined
      ? {}
      : {
          rateFractions: values.rates.split(',').map((text) => {
            const fraction = Number(text);
            if (!(fraction > 0 && fraction <= 1)) throw new Error(`--rates: "${text}" is not a fraction in (0, 1]`);
            return fraction;
          }),
        }),
  };
  const nodeArgs = servingNodeArgs(values['server-node-options']);
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const cleanup = new Cleanup();
  const cases: Record<string, unknown>[] = [];
  let profile: { function: string; percent: number }[] | undefined;
  let redisCeiling = 0;
  try {
    const ghzBin = await ensureTool(GHZ);
    const keyPrefix = mode === 'cluster' ? `load-${process.pid}-${startedAt.getTime().toString(36)}:` : '';
    let nodes: RedisNodeAddress[] | undefined;
    let serverArgs: string[];
    let dataDir: string | undefined;
    if (mode === 'cluster') {
      nodes = await redisNodes(values['redis-cluster'], cleanup);
      serverArgs = ['--redis-cluster', nodeList(nodes), '--key-prefix', keyPrefix];
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'tessera-load-lmdb-'));
      cleanup.add(() => rm(dir, { recursive: true, force: true }));
      dataDir = dir;
      serverArgs = ['--data-dir', dir];
    }
    const keptProfileDir = values['profile-dir'];
    if (keptProfileDir !== undefined) await mkdir(keptProfileDir, { recursive: true });
    const profileDir =
      keptProfileDir ?? (values.profile ? await mkdtemp(join(tmpdir(), 'tessera-load-prof-')) : undefined);
    const server = await startServerProcess(CLI_BIN, serverArgs, [
      ...nodeArgs,
      ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]),
    ]);
    cleanup.add(() => server.stop());
    if (profileDir !== undefined) {
      // The profile is written when the server exits: stop it first, then read it.
      cleanup.add(async () => {
        await server.stop();
        profile = await topSelfTime(profileDir);
        if (keptProfileDir === undefined) await rm(profileDir, { recursive: true, force: true });
      });
    }
    const client = new TesseraClient({ address: server.address, timeoutMillis: 60_000 });
    cleanup.add(() => client.close());
    const featureCounts = [...new Set(config.shapes.map((s) => s.features))];
    await client.apply(benchDefinitions(featureCounts), { author: 'bench' });
    const ids = populationIds(config.population);
    await writeViews(client, ids, featureCounts, 1_000);
    let rawRead: RawRead;
    if (nodes !== undefined) {
      const cluster = new Cluster(nodes.map(({ host, port }) => ({ host, port })));
      cleanup.add(() => cluster.quit().then(() => undefined));
      await new Promise<void>((resolve, reject) => {
        cluster.once('ready', () => resolve());
        cluster.once('error', reject);
      });
      rawRead = async (keys, field) => {
        await pipelinedHmget(cluster, keys, field);
      };
      redisCeiling = await redisBenchmark(
        nodes[0] as RedisNodeAddress,
        config.concurrency,
        values.smoke ? 2_000 : 200_000,
      );
      console.error(`bench: redis-benchmark GET ceiling ${Math.round(redisCeiling)} req/s`);
    } else {
      // The server's own LMDB environment, opened a second time from this process (LMDB allows
      // several processes on one environment): the store's read is a loop of synchronous gets.
      const store = new LmdbOnlineStore({ path: join(dataDir as string, 'online'), sweepIntervalMillis: 0 });
      cleanup.add(() => store.close());
      rawRead = async (keys, field) => {
        await store.read(keys.map((key) => ({ key, fields: [field] })));
      };
    }
    for (const shape of config.shapes) {
      const random = seededRandom(RANDOM_SEED + shape.entities * 1_000 + shape.features);
      const [batch] = requestBatches(ids, shape.entities, 1, random);
      const body = JSON.stringify({
        features: Array.from({ length: shape.features }, (_, f) => `${viewName(shape.features)}:${featureName(f)}`),
        entities: { [JOIN_KEY]: { int64Values: { values: (batch ?? []).map(String) } } },
      });
      // The gRPC floor: a bare grpc-js server answering a canned response of the bytes Tessera answers.
      const cannedResponse = GetOnlineFeaturesResponse.encode(
        await client.getOnlineFeaturesRaw(GetOnlineFeaturesRequest.fromJSON(JSON.parse(body))),
      ).finish();
      const floorServer = await startCannedGrpcServer(cannedResponse, nodeArgs);
      // Raw: the same view's packed rows for request-sized key sets.
      const field = (await client.get('feature_view', viewName(shape.features))).object;
      const id = field?.$case === 'featureView' ? field.value.id : 0;
      const keySets = requestBatches(ids, shape.entities, 256, random).map((set) =>
        set.map((k) => keyPrefix + entityKey([ENTITY], [k])),
      );
      // Tessera, floor and raw closed loops interleaved (A/B/C/A/B/C), so machine load hits all alike.
      const closedRuns: Figures[] = [];
      const floorRuns: Figures[] = [];
      const rawRuns: Figures[] = [];
      let serverCpuSeconds = 0;
      let floorCpuSeconds = 0;
      let serverSeconds = 0;
      let floorSeconds = 0;
      try {
        for (let r = 0; r < config.repetitions; r += 1) {
          const ghzRun = async (target: { address: string; pid: number }, protoset?: string) => {
            const before = processUsage(target.pid).cpuSeconds;
            const started = performance.now();
            const figures = await runGhz({
              bin: ghzBin,
              address: target.address,
              call: GET_ONLINE_FEATURES,
              data: { json: body },
              concurrency: config.concurrency,
              seconds: config.closedSeconds,
              ...(protoset === undefined ? {} : { protoset }),
            });
            return {
              figures,
              cpuSeconds: processUsage(target.pid).cpuSeconds - before,
              seconds: (performance.now() - started) / 1000,
            };
          };
          const tessera = await ghzRun(server);
          closedRuns.push(tessera.figures);
          serverCpuSeconds += tessera.cpuSeconds;
          serverSeconds += tessera.seconds;
          const floor = await ghzRun(floorServer, floorServer.protoset);
          floorRuns.push(floor.figures);
          floorCpuSeconds += floor.cpuSeconds;
          floorSeconds += floor.seconds;
          rawRuns.push(
            await rawClosedLoop(rawRead, keySets, viewField(id, 1), config.concurrency, config.closedSeconds),
          );
        }
      } finally {
        await floorServer.stop();
      }
      const closed = combine(closedRuns);
      const floor = combine(floorRuns);
      const raw = combine(rawRuns);
      const serverCpuCores = serverCpuSeconds / serverSeconds;
      const open: (Figures & { targetRps: number; dropped: number })[] = [];
      for (const fraction of config.rateFractions) {
        const targetRps = closed.rps * fraction;
        open.push({ targetRps, ...(await ghzOpenLoop(ghzBin, server.address, body, targetRps, config.openSeconds)) });
      }
      const closedRequests = closedRuns.reduce((sum, f) => sum + f.requests, 0);
      const floorRequests = floorRuns.reduce((sum, f) => sum + f.requests, 0);
      const result = {
        id: `${shape.entities}x${shape.features}`,
        ...shape,
        closed,
        closedRuns,
        open,
        raw,
        rawRuns,
        grpcFloor: floor,
        grpcFloorRuns: floorRuns,
        responseBytes: cannedResponse.length,
        ratio: {
          rps: raw.rps / Math.max(closed.rps, 1e-9),
          p50: closed.p50Millis / Math.max(raw.p50Millis, 1e-9),
          floorRps: floor.rps / Math.max(closed.rps, 1e-9),
        },
        server: {
          cpuCores: serverCpuCores,
          peakRssBytes: processUsage(server.pid).peakRssBytes,
          // CPU per request of the server process (robust to load: busy machines slow both alike).
          cpuMicrosPerRequest: (1e6 * serverCpuSeconds) / Math.max(closedRequests, 1),
          lookupsPerCoreSecond: (closedRequests * shape.entities) / Math.max(serverCpuSeconds, 1e-9),
        },
        grpcFloorServer: {
          cpuCores: floorCpuSeconds / floorSeconds,
          cpuMicrosPerRequest: (1e6 * floorCpuSeconds) / Math.max(floorRequests, 1),
        },
      };
      cases.push(result);
      console.error(
        `bench: ${result.id}: ${Math.round(closed.rps)} req/s (raw ${Math.round(raw.rps)}, gRPC floor ${Math.round(floor.rps)}), ` +
          `p99 ${closed.p99Millis.toFixed(2)} ms, server ${serverCpuCores.toFixed(2)} cores, ` +
          `${result.server.cpuMicrosPerRequest.toFixed(0)} µs CPU/request (floor ${result.grpcFloorServer.cpuMicrosPerRequest.toFixed(0)}), ` +
          `${Math.round(result.server.lookupsPerCoreSecond)} lookups/s per server core`,
      );
    }
  } finally {
    await cleanup.run();
  }
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['tsx', 'bench/online-load.ts', ...process.argv.slice(2)].join(' '),
    mode,
    machine: machineInfo(loadAverageAtStart, { ghz: GHZ.version }),
    git: gitState(REPO_ROOT),
    config,
    serverNodeArgs: nodeArgs,
    redisBenchmarkGetPerSecond: redisCeiling,
    cases,
    ...(profile === undefined ? {} : { serverProfileTopSelfTime: profile }),
  };
  await mkdir(values.out, { recursive: true });
  const file = join(values.out, `online-load-${mode}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  if (profile !== undefined) {
    console.log('Server CPU profile, top self time:');
    for (const entry of profile) console.log(`  ${entry.percent.toFixed(1)}%  ${entry.function}`);
  }
  console.log(`Full results: ${file}`);
}

await main();
