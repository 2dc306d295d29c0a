// GetOnlineFeatures latency, p50/p99, on the embedded store (LMDB) and on a real 6-node Redis Cluster,
// beside the floor under the Redis path: pipelined HMGET of the same rows from this process.
// How to run it and what each column means: bench/README.md.
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cluster } from 'ioredis';
import { entityKey, viewField } from '@tessera/core';
import { TesseraClient, toColumn } from '@tessera/client';
import { type RedisNodeAddress, startRedisCluster } from '@tessera/testkit';
import {
  ENTITY,
  JOIN_KEY,
  benchDefinitions,
  featureName,
  populationIds,
  RANDOM_SEED,
  requestBatches,
  seededRandom,
  viewName,
  writeViews,
  type WrittenView,
} from './support/dataset.js';
import { Cleanup } from './support/cleanup.js';
import { GrpcFloor } from './support/grpc-floor.js';
import { measureInterleaved } from './support/latency.js';
import type { Contender, LatencySummary, MeasureOptions } from './support/latency.js';
import { pipelinedHmget, pipelinedUnlink } from './support/raw-hmget.js';
import { CannedGrpcClient, startCannedGrpcServer } from './support/canned-grpc-floor.js';
import { servingNodeArgs } from './support/serving-node-options.js';
import { GetOnlineFeaturesRequest, GetOnlineFeaturesResponse } from '@tessera/proto';
import { connectCluster } from './support/redis-nodes.js';
import { startServerProcess } from './support/server-process.js';
import { P99_TARGET_MILLIS, markdownTable } from './support/report.js';
import type { CaseResult } from './support/report.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/tessera.js');
const DEFAULT_OUT_DIR = join(REPO_ROOT, 'bench/results');

/** Batch shapes measured: the 10-feature sizes, then its 50-feature targets. */
const SHAPES = [
  { entities: 1, features: 10 },
  { entities: 100, features: 10 },
  { entities: 1_000, features: 10 },
  { entities: 1, features: 50 },
  { entities: 100, features: 50 },
] as const;
const BACKENDS = ['embedded', 'redis-cluster'] as const;
type Backend = (typeof BACKENDS)[number];

interface RunConfig {
  readonly mode: 'full' | 'smoke';
  /** Entities written to every view; requests draw from them. */
  readonly populationSize: number;
  /** Distinct prepared requests per case, used in turn, so calls do not hit the same keys each time. */
  readonly requestsPerCase: number;
  readonly writeBatchRows: number;
  readonly maxEntitiesPerRequest: number;
  readonly measure: MeasureOptions;
}

const FULL: RunConfig = {
  mode: 'full',
  populationSize: 10_000,
  requestsPerCase: 64,
  writeBatchRows: 2_000,
  maxEntitiesPerRequest: 1_000,
  measure: { warmupCalls: 200, maxWarmupMillis: 1_000, calls: 2_000, maxCaseMillis: 20_000, blockCalls: 50 },
};
const SMOKE: RunConfig = {
  mode: 'smoke',
  populationSize: 300,
  requestsPerCase: 8,
  writeBatchRows: 2_000,
  maxEntitiesPerRequest: 100,
  measure: { warmupCalls: 5, maxWarmupMillis: 1_000, calls: 20, maxCaseMillis: 5_000, blockCalls: 10 },
};

interface Options {
  readonly config: RunConfig;
  readonly outDir: string;
  /** Seed nodes of an existing cluster; otherwise the bench starts (and stops) its own. */
  readonly redisNodes: RedisNodeAddress[] | undefined;
  /** Only cases whose id (`redis-cluster 100x10`) contains this. */
  readonly only: string | undefined;
  /** Run the server children with `--cpu-prof`, profiles into this folder. */
  readonly serverCpuProfDir: string | undefined;
  /** Node options of the server children (default: bench/support/serving-node-options.ts). */
  readonly serverNodeOptions: string | undefined;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      'redis-cluster': { type: 'string' },
      only: { type: 'string' },
      'server-cpu-prof': { type: 'string' },
      'server-node-options': { type: 'string' },
    },
    strict: true,
  });
  return {
    config: values.smoke ? SMOKE : FULL,
    outDir: values.out ?? DEFAULT_OUT_DIR,
    redisNodes: values['redis-cluster'] === undefined ? undefined : parseNodes(values['redis-cluster']),
    only: values.only,
    serverCpuProfDir: values['server-cpu-prof'],
    serverNodeOptions: values['server-node-options'],
  };
}

function parseNodes(text: string): RedisNodeAddress[] {
  return text.split(',').map((item) => {
    const colon = item.lastIndexOf(':');
    const port = Number(item.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port)) throw new Error(`--redis-cluster: "${item}" is not host:port`);
    return { host: item.slice(0, colon), port };
  });
}

function caseId(backend: Backend, entities: number, features: number): string {
  return `${backend} ${entities}x${features}`;
}

/** Written rows of one view, kept to check that reads return them. */
/** Fails unless a read returns every feature PRESENT with the written value: a benchmark of misses is no benchmark. */
async function verifyRead(
  client: TesseraClient,
  view: WrittenView,
  ids: readonly bigint[],
  firstId: bigint,
): Promise<void> {
  const refs = Array.from({ length: view.features }, (_, f) => `${viewName(view.features)}:${featureName(f)}`);
  const result = await client.getOnlineFeatures({ features: refs, entities: { [JOIN_KEY]: [...ids] } });
  for (let f = 0; f < view.features; f++) {
    ids.forEach((id, i) => {
      const expected = view.values[f]?.[Number(id - firstId)];
      const status = result.statuses[f]?.[i];
      const actual = result.values[f]?.[i];
      if (status !== 'PRESENT' || actual !== expected) {
        throw new Error(
          `${refs[f]} of ${JOIN_KEY}=${id}: read ${String(status)} ${String(actual)}, wrote ${String(expected)}`,
        );
      }
    });
  }
}

async function redisVersion(cluster: Cluster): Promise<string> {
  const info = await cluster.info('server');
  return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
}

interface BackendContext {
  readonly backend: Backend;
  /** Node options of the server, used for the canned gRPC floor too. */
  readonly nodeArgs: readonly string[];
  readonly client: TesseraClient;
  readonly floorClient: GrpcFloor;
  readonly keyPrefix: string;
  readonly cluster: Cluster | undefined;
  readonly ids: readonly bigint[];
}

async function measureShape(
  context: BackendContext,
  entities: number,
  features: number,
  config: RunConfig,
): Promise<CaseResult> {
  const { backend, client, cluster } = context;
  const random = seededRandom(RANDOM_SEED + entities * 1_000 + features);
  const batches = requestBatches(context.ids, entities, config.requestsPerCase, random);
  const refs = Array.from({ length: features }, (_, f) => `${viewName(features)}:${featureName(f)}`);
  const columns = batches.map((ids) => ({ [JOIN_KEY]: toColumn('int64', ids) }));
  const pick = <T>(items: readonly T[], i: number): T => items[i % items.length] as T;
  // The bare gRPC floor of this shape: a grpc-js server answering Tessera's response bytes (canned),
  // called with this shape's request bytes; what the SDK call costs above it is Tessera's.
  const sample = await client.getOnlineFeaturesRaw({ features: refs, entities: pick(columns, 0) });
  const canned = await startCannedGrpcServer(GetOnlineFeaturesResponse.encode(sample).finish(), context.nodeArgs);
  const cannedClient = new CannedGrpcClient(
    canned.address,
    GetOnlineFeaturesRequest.encode({
      features: refs,
      featureService: '',
      entities: pick(columns, 0),
      includeEventTimestamps: false,
    }).finish(),
  );
  const contenders: Contender[] = [
    { name: 'grpcFloor', call: () => context.floorClient.check() },
    { name: 'cannedFloor', call: () => cannedClient.call() },
    { name: 'tessera', call: (i) => client.getOnlineFeaturesRaw({ features: refs, entities: pick(columns, i) }) },
    {
      name: 'tesseraEndToEnd',
      call: (i) => client.getOnlineFeatures({ features: refs, entities: { [JOIN_KEY]: pick(batches, i) } }),
    },
  ];
  let rowBytes: number | null = null;
  if (cluster) {
    const view = (await client.get('feature_view', viewName(features))).object;
    if (view?.$case !== 'featureView') throw new Error(`registry has no feature view ${viewName(features)}`);
    const field = viewField(view.value.id, view.value.version);
    const keys = batches.map((ids) => ids.map((id) => context.keyPrefix + entityKey(view.value.entities, [id])));
    const rows = await pipelinedHmget(cluster, pick(keys, 0), field);
    if (rows.some((row) => row === null)) throw new Error(`raw HMGET found no row for some of ${field} (${backend})`);
    rowBytes = Math.round(rows.reduce((sum, row) => sum + (row?.length ?? 0), 0) / rows.length);
    contenders.push({ name: 'rawHmget', call: (i) => pipelinedHmget(cluster, pick(keys, i), field) });
  }
  let summaries: Awaited<ReturnType<typeof measureInterleaved>>;
  try {
    summaries = await measureInterleaved(contenders, config.measure);
  } finally {
    cannedClient.close();
    await canned.stop();
  }
  const get = (name: string): LatencySummary => {
    const summary = summaries.get(name);
    if (!summary) throw new Error(`no summary for ${name}`);
    return summary;
  };
  const tessera = get('tessera');
  const tesseraEndToEnd = get('tesseraEndToEnd');
  const cannedFloor = get('cannedFloor');
  const rawHmget = summaries.get('rawHmget') ?? null;
  return {
    id: caseId(backend, entities, features),
    backend,
    entities,
    features,
    rowBytes,
    tessera,
    tesseraEndToEnd,
    grpcFloor: get('grpcFloor'),
    cannedFloor,
    sdkOverCannedFloorP50: tesseraEndToEnd.p50Millis / cannedFloor.p50Millis,
    rawHmget,
    ratio: rawHmget && {
      p50: tessera.p50Millis / rawHmget.p50Millis,
      p99: tessera.p99Millis / rawHmget.p99Millis,
    },
    p99TargetMillis: P99_TARGET_MILLIS[`${entities}x${features}`] ?? null,
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { config } = options;
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const shapes = SHAPES.filter((s) => s.entities <= config.maxEntitiesPerRequest);
  const wanted = (backend: Backend): typeof shapes =>
    shapes.filter((s) => !options.only || caseId(backend, s.entities, s.features).includes(options.only));
  const featureCounts = [...new Set(shapes.map((s) => s.features))];
  const ids = populationIds(config.populationSize);
  const results: CaseResult[] = [];
  const cleanup = new Cleanup();
  let redis: string | undefined;
  try {
    let nodes = options.redisNodes;
    if (!nodes) {
      const startedCluster = Date.now();
      const handle = await startRedisCluster();
      cleanup.add(() => handle.stop());
      nodes = [...handle.nodes];
      console.error(
        `bench: Redis Cluster on ${nodes.map((n) => n.port).join(',')} in ${Date.now() - startedCluster} ms`,
      );
    }
    const keyPrefix = `bench-${process.pid}-${startedAt.getTime().toString(36)}:`;
    const cluster = await connectCluster(nodes);
    cleanup.add(() => cluster.quit().then(() => undefined));
    redis = await redisVersion(cluster);
    const servingArgs = servingNodeArgs(options.serverNodeOptions);
    const nodeArgs = [
      ...servingArgs,
      ...(options.serverCpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.serverCpuProfDir}`] : []),
    ];

    for (const backend of BACKENDS) {
      const backendShapes = wanted(backend);
      if (backendShapes.length === 0) continue;
      const backendCleanup = new Cleanup();
      try {
        let serverArgs: string[];
        if (backend === 'embedded') {
          const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-lmdb-'));
          backendCleanup.add(() => rm(dataDir, { recursive: true, force: true }));
          serverArgs = ['--data-dir', dataDir];
        } else {
          const hosts = nodes.map((n) => `${n.host}:${n.port}`).join(',');
          serverArgs = ['--redis-cluster', hosts, '--key-prefix', keyPrefix];
          const keys = ids.map((id) => keyPrefix + entityKey([ENTITY], [id]));
          backendCleanup.add(() => pipelinedUnlink(cluster, keys));
        }
        const server = await startServerProcess(CLI_BIN, serverArgs, nodeArgs);
        backendCleanup.add(() => server.stop());
        const client = new TesseraClient({ address: server.address, timeoutMillis: 30_000 });
        backendCleanup.add(() => client.close());
        await client.apply(benchDefinitions(featureCounts), { author: 'bench' });
        const written = await writeViews(client, ids, featureCounts, config.writeBatchRows);
        const sample = ids.slice(0, Math.min(100, ids.length));
        for (const view of written.values()) await verifyRead(client, view, sample, ids[0] as bigint);
        console.error(
          `bench: ${backend} server pid ${server.pid} on ${server.address}, ${ids.length} entities written`,
        );
        const floorClient = new GrpcFloor(server.address);
        backendCleanup.add(() => floorClient.close());
        const context: BackendContext = {
          backend,
          nodeArgs: servingArgs,
          client,
          floorClient,
          keyPrefix,
          cluster: backend === 'redis-cluster' ? cluster : undefined,
          ids,
        };
        for (const shape of backendShapes) {
          const result = await measureShape(context, shape.entities, shape.features, config);
          console.error(
            `bench: ${result.id}: p50 ${result.tessera.p50Millis.toFixed(3)} ms, p99 ${result.tessera.p99Millis.toFixed(3)} ms` +
              (result.ratio ? `, ${result.ratio.p50.toFixed(1)}× raw at p50` : ''),
          );
          results.push(result);
        }
      } finally {
        await backendCleanup.run();
      }
    }
  } finally {
    await cleanup.run();
  }

  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['tsx', 'bench/online-latency.ts', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(loadAverageAtStart, { redis }),
    git: gitState(REPO_ROOT),
    config: {
      ...config,
      redisCluster: options.redisNodes ? 'given (--redis-cluster)' : 'started by the bench: 3 masters + 3 replicas',
      only: options.only,
      serverCpuProfDir: options.serverCpuProfDir,
      serverNodeArgs: servingNodeArgs(options.serverNodeOptions),
      featureTypes: 'per 10 features: 6 double, 2 int64, 1 string, 1 bool',
      transport: 'gRPC over loopback to a `tessera serve` child process; one call in flight',
    },
    cases: results,
    // The SDK goal per shape (bench/support/targets-report.ts reads `sdk[id=1x10].ratio.p50`): the
    // Redis Cluster case's client e2e p50 over the bare grpc-js call of the same bytes.
    sdk: results
      .filter((c) => c.backend === 'redis-cluster' && c.cannedFloor !== undefined)
      .map((c) => ({
        id: `${c.entities}x${c.features}`,
        sdk: c.tesseraEndToEnd,
        bareGrpc: c.cannedFloor,
        ratio: { p50: c.sdkOverCannedFloorP50, p99: c.tesseraEndToEnd.p99Millis / (c.cannedFloor?.p99Millis ?? NaN) },
      })),
  };
  await mkdir(options.outDir, { recursive: true });
  const file = join(options.outDir, `online-latency-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(
    `\`${report.command}\` — ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, Redis ${redis ?? '?'}\n`,
  );
  console.log(markdownTable(results));
  console.log(`\nAll times in ms. Full results: ${file}`);
}

await main();
