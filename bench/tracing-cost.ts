// What tracing costs: the same `tessera serve` on the same Redis Cluster data started three ways —
// tracing off (the baseline), sampling 1 % and sampling 100 %, both exporting over OTLP to a real
// Jaeger (v1.75.0, built on first use, in-memory, on loopback) — and GetOnlineFeatures 1×50 and a
// write-behind Write of 10 rows × 50 features measured interleaved across the three in one run, so
// machine noise lands on every variant alike. Reports p50/p99 and each variant's ratio to off.
// How to run it and what each column means: bench/README.md.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TesseraClient, toColumn } from '@tessera/client';
import type { Column } from '@tessera/proto';
import { startJaeger } from '@tessera/testkit';
import { JOIN_KEY, RANDOM_SEED, benchDefinitions, featureName, featureType, featureValues } from './support/dataset.js';
import { populationIds, requestBatches, seededRandom, viewName, writeViews } from './support/dataset.js';
import { Cleanup } from './support/cleanup.js';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import { measureInterleaved, type LatencySummary, type MeasureOptions } from './support/latency.js';
import {
  tracingMarkdownTable,
  type TracingCaseResult as CaseResult,
  type TracingVariantResult as VariantResult,
} from './support/tracing-report.js';
import { processCpuMillis } from './support/process-cpu.js';
import { connectCluster, nodeList, redisNodes, unlinkMatching } from './support/redis-nodes.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/tessera.js');
const DEFAULT_OUT_DIR = join(REPO_ROOT, 'bench/results');
const FEATURES = 50;
/** Rows per measured Write. */
const WRITE_ROWS = 10;

/** The variants, baseline first; `sampleRatio` undefined = tracing off. */
const VARIANTS = [
  { name: 'off', sampleRatio: undefined },
  { name: '1%', sampleRatio: 0.01 },
  { name: '100%', sampleRatio: 1 },
] as const;
type VariantName = (typeof VARIANTS)[number]['name'];

/** The issue's targets for the p50 ratio to tracing off. */
export const P50_RATIO_TARGETS: Readonly<Record<VariantName, number>> = { off: 1, '1%': 1.05, '100%': 1.15 };

interface RunConfig {
  readonly mode: 'full' | 'smoke';
  readonly populationSize: number;
  /** Distinct prepared requests per case, used in turn. */
  readonly requestsPerCase: number;
  readonly measure: MeasureOptions;
}

const FULL: RunConfig = {
  mode: 'full',
  populationSize: 10_000,
  requestsPerCase: 64,
  measure: { warmupCalls: 200, maxWarmupMillis: 2_000, calls: 3_000, maxCaseMillis: 120_000, blockCalls: 50 },
};
const SMOKE: RunConfig = {
  mode: 'smoke',
  populationSize: 300,
  requestsPerCase: 8,
  measure: { warmupCalls: 5, maxWarmupMillis: 1_000, calls: 20, maxCaseMillis: 5_000, blockCalls: 10 },
};

interface Running {
  readonly variant: (typeof VARIANTS)[number];
  readonly server: ServerProcess;
  readonly client: TesseraClient;
  /** `service.name` its spans carry in Jaeger (undefined when off). */
  readonly serviceName: string | undefined;
}

function parseOptions(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      'redis-cluster': { type: 'string' },
    },
    strict: true,
  });
  return {
    config: values.smoke ? SMOKE : FULL,
    outDir: values.out ?? DEFAULT_OUT_DIR,
    redisCluster: values['redis-cluster'],
  };
}

/** Measures `call` on every variant interleaved, with each server's CPU per call. */
async function measureCase(
  id: string,
  running: readonly Running[],
  call: (r: Running, i: number) => Promise<unknown>,
  config: RunConfig,
): Promise<CaseResult> {
  const counts = new Map<string, number>();
  const contenders = running.map((r) => ({
    name: r.variant.name,
    call: async (i: number) => {
      await call(r, i);
      counts.set(r.variant.name, (counts.get(r.variant.name) ?? 0) + 1);
    },
  }));
  const cpuBefore = await Promise.all(running.map((r) => processCpuMillis(r.server.pid)));
  const summaries = await measureInterleaved(contenders, config.measure);
  const cpuAfter = await Promise.all(running.map((r) => processCpuMillis(r.server.pid)));
  const base = summaries.get('off') as LatencySummary;
  return {
    id,
    variants: running.map((r, k): VariantResult => {
      const latency = summaries.get(r.variant.name) as LatencySummary;
      const before = cpuBefore[k];
      const after = cpuAfter[k];
      const calls = counts.get(r.variant.name) ?? 1;
      return {
        variant: r.variant.name,
        latency,
        ratio: { p50: latency.p50Millis / base.p50Millis, p99: latency.p99Millis / base.p99Millis },
        p50RatioTarget: P50_RATIO_TARGETS[r.variant.name],
        serverCpuMicrosPerCall: before === undefined || after === undefined ? null : ((after - before) * 1000) / calls,
      };
    }),
  };
}

/** Traces Jaeger holds for `service` (up to `limit`): proof the traced servers really export. */
async function tracesIn(queryUrl: string, service: string, limit: number): Promise<number> {
  const response = await fetch(
    `${queryUrl}/api/traces?service=${encodeURIComponent(service)}&limit=${limit}&lookback=1h`,
  );
  if (!response.ok) return 0;
  const body = (await response.json()) as { data: unknown[] | null };
  return body.data?.length ?? 0;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { config } = options;
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const ids = populationIds(config.populationSize);
  const results: CaseResult[] = [];
  const cleanup = new Cleanup();
  let redis = 'unknown';
  let exported: Record<string, number> = {};
  try {
    const jaeger = await startJaeger();
    cleanup.add(() => jaeger.stop());
    const nodes = await redisNodes(options.redisCluster, cleanup);
    const cluster = await connectCluster(nodes);
    cleanup.add(() => cluster.quit().then(() => undefined));
    redis = /redis_version:(\S+)/.exec(await cluster.info('server'))?.[1] ?? 'unknown';
    const keyPrefix = `bench-trc-${process.pid}-${startedAt.getTime().toString(36)}:`;
    cleanup.add(() => unlinkMatching(cluster, `*${keyPrefix}*`));
    const storage = ['--redis-cluster', nodeList(nodes), '--key-prefix', keyPrefix];

    // The data is written through a server of its own (tracing off), stopped before measuring.
    const loader = await startServerProcess(CLI_BIN, storage);
    const loaderClient = new TesseraClient({ address: loader.address, timeoutMillis: 30_000 });
    try {
      await loaderClient.apply(benchDefinitions([FEATURES]), { author: 'bench' });
      await writeViews(loaderClient, ids, [FEATURES], 2_000);
    } finally {
      loaderClient.close();
      await loader.stop();
    }
    const tag = startedAt.getTime().toString(36);
    const running = await Promise.all(
      VARIANTS.map(async (variant): Promise<Running> => {
        const serviceName =
          variant.sampleRatio === undefined ? undefined : `bench-tracing-${variant.name.replace('%', 'pct')}-${tag}`;
        const env =
          variant.sampleRatio === undefined || serviceName === undefined
            ? {}
            : {
                TESSERA_TRACING_ENABLED: 'true',
                TESSERA_TRACING_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
                TESSERA_TRACING_SAMPLE_RATIO: String(variant.sampleRatio),
                TESSERA_TRACING_SERVICE_NAME: serviceName,
              };
        const server = await startServerProcess(CLI_BIN, storage, [], env);
        cleanup.add(() => server.stop());
        const client = new TesseraClient({ address: server.address, timeoutMillis: 30_000 });
        cleanup.add(() => client.close());
        return { variant, server, client, serviceName };
      }),
    );
    console.error(`bench: ${running.map((r) => `${r.variant.name} (pid ${r.server.pid})`).join(', ')}`);

    const random = seededRandom(RANDOM_SEED + 14);
    const refs = Array.from({ length: FEATURES }, (_, f) => `${viewName(FEATURES)}:${featureName(f)}`);
    const reads = requestBatches(ids, 1, config.requestsPerCase, random).map((batch) => ({
      [JOIN_KEY]: toColumn('int64', batch),
    }));
    const pick = <T>(items: readonly T[], i: number): T => items[i % items.length] as T;
    results.push(
      await measureCase(
        'online 1x50',
        running,
        (r, i) => r.client.getOnlineFeaturesRaw({ features: refs, entities: pick(reads, i) }),
        config,
      ),
    );

    const values = featureValues(FEATURES, WRITE_ROWS, seededRandom(RANDOM_SEED + 15));
    const writes = requestBatches(ids, WRITE_ROWS, config.requestsPerCase, random).map((batch) => {
      const columns: Record<string, Column> = { [JOIN_KEY]: toColumn('int64', batch) };
      values.forEach((column, f) => {
        columns[featureName(f)] = toColumn(featureType(f), column);
      });
      return columns;
    });
    const eventMillis = Date.now() - 60_000;
    results.push(
      await measureCase(
        `write ${WRITE_ROWS}x${FEATURES}`,
        running,
        (r, i) =>
          r.client.write({
            featureView: viewName(FEATURES),
            columns: pick(writes, i),
            eventTimestamps: toColumn('timestamp', new Array<number>(WRITE_ROWS).fill(eventMillis + i)),
          }),
        config,
      ),
    );
    for (const result of results) {
      console.error(
        `bench: ${result.id}: ` +
          result.variants
            .map(
              (v) =>
                `${v.variant} p50 ${v.latency.p50Millis.toFixed(3)} ms (${v.ratio.p50.toFixed(3)}×, target ≤ ${v.p50RatioTarget})`,
            )
            .join(', '),
      );
    }
    // The servers export every second; give the last batch time to land, then count what Jaeger holds.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    exported = Object.fromEntries(
      await Promise.all(
        running
          .filter((r) => r.serviceName !== undefined)
          .map(
            async (r) => [r.variant.name, await tracesIn(jaeger.queryUrl, r.serviceName as string, 100_000)] as const,
          ),
      ),
    );
    console.error(`bench: traces in Jaeger: ${JSON.stringify(exported)}`);
  } finally {
    await cleanup.run();
  }

  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['tsx', 'bench/tracing-cost.ts', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(loadAverageAtStart, { redis }),
    git: gitState(REPO_ROOT),
    config: {
      ...config,
      variants: VARIANTS,
      jaeger: 'v1.75.0 all-in-one, in-memory, OTLP/HTTP on loopback (test/infra/jaeger.ts)',
      exporter: 'OTLP/HTTP protobuf, BatchSpanProcessor (1 s, 512 spans per export)',
      redisCluster: options.redisCluster ? 'given (--redis-cluster)' : 'started by the bench: 3 masters + 3 replicas',
      transport: 'gRPC over loopback to `tessera serve` child processes, one per variant; one call in flight',
      write: `${WRITE_ROWS} rows × ${FEATURES} features, write-behind (online + BullMQ job; no writer consumes)`,
    },
    exportedTraces: exported,
    cases: results,
  };
  await mkdir(options.outDir, { recursive: true });
  const file = join(options.outDir, `tracing-cost-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(tracingMarkdownTable(results));
  console.error(`bench: wrote ${file}`);
}

await main();
