// What authentication and TLS cost on online reads: the same `tessera serve` started several ways on
// the same data — TLS alone, auth alone, auth + TLS, auth + mTLS — each also serving a local plaintext
// listener without auth (`--local-port`), the variant's baseline in the same process. GetOnlineFeatures
// 1×50 and 100×50 are measured interleaved across every port in one run, so machine noise lands on all
// alike, and each ratio compares two ports of one process: only the transport and the key check differ.
// How to run it and what each column means: bench/README.md.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { TesseraClient, channelCredentials, toColumn } from '@tessera/client';
import type { ClientTlsOptions } from '@tessera/client';
import { GetOnlineFeaturesRequest } from '@tessera/proto';
import { ensureTool, makeTestCertificates, type TestCertificates } from '@tessera/testkit';
import { JOIN_KEY, RANDOM_SEED, benchDefinitions, featureName, populationIds } from './support/dataset.js';
import { requestBatches, seededRandom, viewName, writeViews, type WrittenView } from './support/dataset.js';
import { Cleanup } from './support/cleanup.js';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import { runGhz } from './support/ghz.js';
import { GrpcFloor } from './support/grpc-floor.js';
import { GHZ } from './support/load-tools.js';
import { measureInterleaved } from './support/latency.js';
import type { Contender, LatencySummary, MeasureOptions } from './support/latency.js';
import { processCpuMillis } from './support/process-cpu.js';
import { connectCluster, nodeList, redisNodes, unlinkMatching } from './support/redis-nodes.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import { P50_RATIO_TARGET, securityMarkdownTable } from './support/security-report.js';
import type {
  GoClientComparison,
  SecurityCaseResult,
  SecurityVariant,
  VariantResult,
} from './support/security-report.js';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/tessera.js');
const DEFAULT_OUT_DIR = join(REPO_ROOT, 'bench/results');

/** The issue's two shapes: one entity and a hundred, 50 features each. */
const SHAPES = [
  { entities: 1, features: 50 },
  { entities: 100, features: 50 },
] as const;
const FEATURES = 50;

const BACKENDS = ['redis-cluster', 'embedded'] as const;
type Backend = (typeof BACKENDS)[number];

/** How each variant's server is started and its client connects. */
const VARIANTS: Readonly<Record<SecurityVariant, { readonly auth: boolean; readonly tls: 'none' | 'tls' | 'mtls' }>> = {
  tls: { auth: false, tls: 'tls' },
  auth: { auth: true, tls: 'none' },
  'auth+tls': { auth: true, tls: 'tls' },
  'auth+mtls': { auth: true, tls: 'mtls' },
};

/**
 * Variants per backend. Redis Cluster, the production shape, gets all of them on one key prefix (the
 * servers share the data, written once). The embedded store is one directory per server, so it gets
 * the one the issue asks for.
 */
const BACKEND_VARIANTS: Readonly<Record<Backend, readonly SecurityVariant[]>> = {
  'redis-cluster': ['tls', 'auth', 'auth+tls', 'auth+mtls'],
  embedded: ['auth+tls'],
};

interface RunConfig {
  readonly mode: 'full' | 'smoke';
  readonly populationSize: number;
  /** Distinct prepared requests per case, used in turn. */
  readonly requestsPerCase: number;
  readonly writeBatchRows: number;
  readonly measure: MeasureOptions;
  /** The Go client's comparison: ghz runs per side, alternating plain and auth+tls, and seconds per run. */
  readonly ghz: { readonly rounds: number; readonly seconds: number };
}

const FULL: RunConfig = {
  mode: 'full',
  populationSize: 10_000,
  requestsPerCase: 64,
  writeBatchRows: 2_000,
  measure: { warmupCalls: 200, maxWarmupMillis: 2_000, calls: 2_000, maxCaseMillis: 120_000, blockCalls: 50 },
  ghz: { rounds: 4, seconds: 4 },
};
const SMOKE: RunConfig = {
  mode: 'smoke',
  populationSize: 300,
  requestsPerCase: 8,
  writeBatchRows: 2_000,
  measure: { warmupCalls: 5, maxWarmupMillis: 1_000, calls: 20, maxCaseMillis: 5_000, blockCalls: 10 },
  ghz: { rounds: 1, seconds: 1 },
};

interface Options {
  readonly config: RunConfig;
  readonly outDir: string;
  readonly redisCluster: string | undefined;
  readonly backends: readonly Backend[];
  /** Run the server children with `--cpu-prof`, profiles into this folder. */
  readonly serverCpuProfDir: string | undefined;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      'redis-cluster': { type: 'string' },
      backends: { type: 'string', default: BACKENDS.join(',') },
      'server-cpu-prof': { type: 'string' },
    },
    strict: true,
  });
  const backends = values.backends.split(',').map((b) => {
    if (!(BACKENDS as readonly string[]).includes(b)) {
      throw new Error(`--backends: "${b}" is not one of ${BACKENDS.join(', ')}`);
    }
    return b as Backend;
  });
  return {
    config: values.smoke ? SMOKE : FULL,
    outDir: values.out ?? DEFAULT_OUT_DIR,
    redisCluster: values['redis-cluster'],
    backends,
    serverCpuProfDir: values['server-cpu-prof'],
  };
}

/**
 * One running variant: its server, a client configured as a real caller of its main port would be,
 * and a plaintext client without a key on its local listener.
 */
interface RunningVariant {
  readonly variant: SecurityVariant;
  readonly server: ServerProcess;
  readonly client: TesseraClient;
  readonly plainClient: TesseraClient;
  readonly tls: ClientTlsOptions | undefined;
  /** The read key its client sends, if the variant needs one. */
  readonly apiKey: string | undefined;
}

/** `tessera keys create` against a deployment's key store, as an operator would; returns the token. */
async function createKeyToken(storeArgs: readonly string[], name: string, scopes: string): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, [
    CLI_BIN,
    'keys',
    'create',
    name,
    '--scopes',
    scopes,
    ...storeArgs,
  ]);
  const token = stdout.trim();
  if (!/^\S+$/.test(token)) throw new Error(`tessera keys create printed no token for ${name}`);
  return token;
}

function serverArgs(variant: SecurityVariant, certs: TestCertificates): string[] {
  const spec = VARIANTS[variant];
  return [
    '--local-port',
    '0',
    ...(spec.auth ? ['--auth'] : []),
    ...(spec.tls === 'none' ? [] : ['--tls-cert', certs.serverCertFile, '--tls-key', certs.serverKeyFile]),
    ...(spec.tls === 'mtls' ? ['--tls-client-ca', certs.caFile] : []),
  ];
}

function clientTls(variant: SecurityVariant, certs: TestCertificates): ClientTlsOptions | undefined {
  switch (VARIANTS[variant].tls) {
    case 'none':
      return undefined;
    case 'tls':
      return { caFile: certs.caFile };
    case 'mtls':
      return { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile };
  }
}

/** Fails unless every port reads back what was written: a benchmark of misses or refusals is no benchmark. */
async function verifyRead(
  running: { readonly variant: string; readonly client: TesseraClient },
  view: WrittenView,
  ids: readonly bigint[],
  firstId: bigint,
): Promise<void> {
  const refs = Array.from({ length: view.features }, (_, f) => `${viewName(view.features)}:${featureName(f)}`);
  const result = await running.client.getOnlineFeatures({ features: refs, entities: { [JOIN_KEY]: [...ids] } });
  for (let f = 0; f < view.features; f++) {
    ids.forEach((id, i) => {
      const expected = view.values[f]?.[Number(id - firstId)];
      if (result.statuses[f]?.[i] !== 'PRESENT' || result.values[f]?.[i] !== expected) {
        throw new Error(
          `${running.variant}: ${refs[f]} of ${JOIN_KEY}=${id}: read ${String(result.values[f]?.[i])}, wrote ${String(expected)}`,
        );
      }
    });
  }
}

/** Storage that a set of measured servers share. */
interface StorageGroup {
  readonly variants: readonly SecurityVariant[];
  /** `serve` flags naming the storage. */
  readonly serveArgs: readonly string[];
  /** `keys create` flags naming the same deployment's key store. */
  readonly keyStoreArgs: readonly string[];
}

/**
 * Writes the data of every group through a plaintext server of its own, stopped after, then starts
 * the measured variants all alike — none is the one that wrote (a warmer JIT, a bigger heap) — and
 * checks each reads the data back.
 */
async function startBackend(
  groups: readonly StorageGroup[],
  ids: readonly bigint[],
  config: RunConfig,
  certs: TestCertificates,
  nodeArgs: readonly string[],
  cleanup: Cleanup,
): Promise<RunningVariant[]> {
  // Stopped together: an embedded server takes seconds to stop, one after another adds up.
  const servers: ServerProcess[] = [];
  cleanup.add(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });
  const perGroup = await Promise.all(
    groups.map(async (group) => {
      const writerServer = await startServerProcess(CLI_BIN, group.serveArgs);
      const writer = new TesseraClient({ address: writerServer.address, timeoutMillis: 30_000 });
      let view: WrittenView;
      try {
        await writer.apply(benchDefinitions([FEATURES]), { author: 'bench' });
        const written = await writeViews(writer, ids, [FEATURES], config.writeBatchRows);
        view = written.get(FEATURES) as WrittenView;
      } finally {
        writer.close();
        await writerServer.stop();
      }
      // A read-only key, as a model server would hold.
      const needsKey = group.variants.some((v) => VARIANTS[v].auth);
      const readToken = needsKey ? await createKeyToken(group.keyStoreArgs, 'bench-read', 'read') : undefined;
      const started = await Promise.all(
        group.variants.map(async (variant) => {
          const server = await startServerProcess(
            CLI_BIN,
            [...group.serveArgs, ...serverArgs(variant, certs)],
            nodeArgs,
          );
          servers.push(server);
          const apiKey = VARIANTS[variant].auth ? readToken : undefined;
          return withClient({ variant, server, tls: clientTls(variant, certs) }, apiKey, cleanup);
        }),
      );
      const sample = ids.slice(0, Math.min(100, ids.length));
      for (const r of started) {
        await verifyRead(r, view, sample, ids[0] as bigint);
        await verifyRead(
          { variant: `${r.variant}'s local listener`, client: r.plainClient },
          view,
          sample,
          ids[0] as bigint,
        );
      }
      return started;
    }),
  );
  return perGroup.flat();
}

/** `running` with its two clients: a real caller of its main port, and a plaintext one of its local listener. */
function withClient(
  running: Omit<RunningVariant, 'client' | 'plainClient' | 'apiKey'>,
  apiKey: string | undefined,
  cleanup: Cleanup,
): RunningVariant {
  const { localAddress } = running.server;
  if (localAddress === undefined) throw new Error(`${running.variant}: the server has no local listener`);
  const client = new TesseraClient({
    address: running.server.address,
    timeoutMillis: 30_000,
    ...(running.tls === undefined ? {} : { tls: running.tls }),
    ...(apiKey === undefined ? {} : { apiKey }),
  });
  const plainClient = new TesseraClient({ address: localAddress, timeoutMillis: 30_000 });
  cleanup.add(() => client.close());
  cleanup.add(() => plainClient.close());
  return { ...running, client, plainClient, apiKey };
}

/** The median of some numbers (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The same comparison through another client: ghz (Go's gRPC and TLS), one call in flight on one
 * connection, against the auth+tls port and the same process's plaintext listener, in runs that
 * alternate (plain first in even rounds, auth+tls first in odd ones). A Node client pays Node's TLS on
 * both ends of every call; this one shows what a Go or other non-Node caller of the server pays.
 */
async function measureGoClient(
  ghzBin: string,
  secure: RunningVariant,
  refs: readonly string[],
  columns: readonly Record<string, ReturnType<typeof toColumn>>[],
  config: RunConfig,
): Promise<GoClientComparison> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-ghz-security-'));
  try {
    const file = join(dir, 'bodies.json');
    const bodies = columns.map((entities) =>
      GetOnlineFeaturesRequest.toJSON(GetOnlineFeaturesRequest.fromPartial({ features: [...refs], entities })),
    );
    await writeFile(file, JSON.stringify(bodies));
    const base = {
      bin: ghzBin,
      call: 'tessera.v1.FeatureStore.GetOnlineFeatures',
      data: { file },
      concurrency: 1,
      connections: 1,
      seconds: config.ghz.seconds,
    };
    const tls = secure.tls === undefined ? undefined : { caFile: secure.tls.caFile as string };
    const runPlain = () => runGhz({ ...base, address: secure.server.localAddress as string });
    const runSecure = () =>
      runGhz({
        ...base,
        address: secure.server.address,
        ...(tls === undefined ? {} : { tls }),
        ...(secure.apiKey === undefined ? {} : { metadata: { authorization: `Bearer ${secure.apiKey}` } }),
      });
    const plain: number[] = [];
    const secured: number[] = [];
    let calls = 0;
    let errors = 0;
    for (let round = 0; round < config.ghz.rounds; round++) {
      const order = round % 2 === 0 ? ([runPlain, runSecure] as const) : ([runSecure, runPlain] as const);
      for (const run of order) {
        const figures = await run();
        (run === runPlain ? plain : secured).push(figures.p50Millis);
        calls += figures.requests;
        errors += figures.errors;
      }
    }
    if (errors > 0) throw new Error(`ghz: ${errors} of ${calls} calls failed`);
    const plainP50Millis = median(plain);
    const securedP50Millis = median(secured);
    return {
      client: `ghz ${GHZ.version}, one call in flight, one connection`,
      plainP50Millis,
      securedP50Millis,
      ratioP50: securedP50Millis / plainP50Millis,
      runs: { plain, secured },
      secondsPerRun: config.ghz.seconds,
      calls,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measureShape(
  backend: Backend,
  running: readonly RunningVariant[],
  ids: readonly bigint[],
  entities: number,
  features: number,
  config: RunConfig,
  ghzBin: string,
  cleanup: Cleanup,
): Promise<SecurityCaseResult> {
  const random = seededRandom(RANDOM_SEED + entities * 1_000 + features);
  const batches = requestBatches(ids, entities, config.requestsPerCase, random);
  const refs = Array.from({ length: features }, (_, f) => `${viewName(features)}:${featureName(f)}`);
  const columns = batches.map((batch) => ({ [JOIN_KEY]: toColumn('int64', batch) }));
  const pick = <T>(items: readonly T[], i: number): T => items[i % items.length] as T;
  const secure = running.find((r) => r.variant === 'auth+tls');
  if (!secure) throw new Error(`${backend}: the auth+tls variant is needed`);
  // CPU per call, beside latency: less at the mercy of a busy machine. The client's is read around
  // each call (one in flight, nothing else runs here); each server's around the whole case (it
  // serves nothing else then: the floors are measured after, in a pass of their own).
  const calls = new Map<string, { count: number; clientCpuMicros: number }>();
  const counted = (name: string, call: Contender['call']): Contender => {
    const tally = { count: 0, clientCpuMicros: 0 };
    calls.set(name, tally);
    return {
      name,
      call: async (i) => {
        const before = process.cpuUsage();
        await call(i);
        const used = process.cpuUsage(before);
        tally.count += 1;
        tally.clientCpuMicros += used.user + used.system;
      },
    };
  };
  const plainName = (variant: SecurityVariant): string => `${variant}:plain`;
  const contenders = running.flatMap((r) => [
    counted(r.variant, (i) => r.client.getOnlineFeaturesRaw({ features: refs, entities: pick(columns, i) })),
    counted(plainName(r.variant), (i) =>
      r.plainClient.getOnlineFeaturesRaw({ features: refs, entities: pick(columns, i) }),
    ),
  ]);
  const cpuBefore = await Promise.all(running.map((r) => processCpuMillis(r.server.pid)));
  const summaries = await measureInterleaved(contenders, config.measure);
  const cpuAfter = await Promise.all(running.map((r) => processCpuMillis(r.server.pid)));

  // Health is open (no key), so on the TLS port it measures the TLS round trip alone.
  const floorPlain = new GrpcFloor(secure.server.localAddress as string);
  const floorTls = new GrpcFloor(secure.server.address, channelCredentials(secure.tls));
  cleanup.add(() => floorPlain.close());
  cleanup.add(() => floorTls.close());
  const floors = await measureInterleaved(
    [
      { name: 'floor:plain', call: () => floorPlain.check() },
      { name: 'floor:tls', call: () => floorTls.check() },
    ],
    config.measure,
  );
  const get = (from: Map<string, LatencySummary>, name: string): LatencySummary => {
    const summary = from.get(name);
    if (!summary) throw new Error(`no summary for ${name}`);
    return summary;
  };
  const cpuPerCall = (name: string): number => {
    const tally = calls.get(name) as { count: number; clientCpuMicros: number };
    return tally.clientCpuMicros / tally.count;
  };
  const variants = running.map((r, k): VariantResult => {
    const latency = get(summaries, r.variant);
    const plain = get(summaries, plainName(r.variant));
    const before = cpuBefore[k];
    const after = cpuAfter[k];
    const serverCalls = (calls.get(r.variant)?.count ?? 0) + (calls.get(plainName(r.variant))?.count ?? 0);
    return {
      variant: r.variant,
      latency,
      plain,
      ratio: { p50: latency.p50Millis / plain.p50Millis, p99: latency.p99Millis / plain.p99Millis },
      p50DeltaMillis: latency.p50Millis - plain.p50Millis,
      clientCpuMicrosPerCall: { variant: cpuPerCall(r.variant), plain: cpuPerCall(plainName(r.variant)) },
      serverCpuMicrosPerCall:
        before === undefined || after === undefined ? null : ((after - before) * 1000) / serverCalls,
    };
  });
  return {
    id: `${backend} ${entities}x${features}`,
    backend,
    entities,
    features,
    variants,
    floors: { plain: get(floors, 'floor:plain'), tls: get(floors, 'floor:tls') },
    goClient: await measureGoClient(ghzBin, secure, refs, columns, config),
    p50RatioTarget: P50_RATIO_TARGET,
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { config } = options;
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const ids = populationIds(config.populationSize);
  const nodeArgs = options.serverCpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.serverCpuProfDir}`] : [];
  const results: SecurityCaseResult[] = [];
  const cleanup = new Cleanup();
  let redis: string | undefined;
  try {
    const ghzBin = await ensureTool(GHZ);
    const certs = makeTestCertificates();
    cleanup.add(() => certs[Symbol.dispose]());
    for (const backend of options.backends) {
      const backendCleanup = new Cleanup();
      try {
        let groups: StorageGroup[];
        if (backend === 'redis-cluster') {
          const nodes = await redisNodes(options.redisCluster, cleanup);
          const cluster = await connectCluster(nodes);
          backendCleanup.add(() => cluster.quit().then(() => undefined));
          redis = /redis_version:(\S+)/.exec(await cluster.info('server'))?.[1] ?? 'unknown';
          const keyPrefix = `bench-sec-${process.pid}-${startedAt.getTime().toString(36)}:`;
          backendCleanup.add(() => unlinkMatching(cluster, `${keyPrefix}*`));
          const storage = ['--redis-cluster', nodeList(nodes), '--key-prefix', keyPrefix];
          groups = [{ variants: BACKEND_VARIANTS[backend], serveArgs: storage, keyStoreArgs: storage }];
        } else {
          groups = [];
          for (const variant of BACKEND_VARIANTS[backend]) {
            const dataDir = await mkdtemp(join(tmpdir(), `tessera-bench-sec-${variant.replace('+', '-')}-`));
            backendCleanup.add(() => rm(dataDir, { recursive: true, force: true }));
            const storage = ['--data-dir', dataDir];
            groups.push({ variants: [variant], serveArgs: storage, keyStoreArgs: storage });
          }
        }
        const running = await startBackend(groups, ids, config, certs, nodeArgs, backendCleanup);
        console.error(
          `bench: ${backend}: ${running.map((r) => `${r.variant} (pid ${r.server.pid})`).join(', ')}; ${ids.length} entities`,
        );
        for (const shape of SHAPES) {
          const result = await measureShape(
            backend,
            running,
            ids,
            shape.entities,
            shape.features,
            config,
            ghzBin,
            backendCleanup,
          );
          const secure = result.variants.find((v) => v.variant === 'auth+tls');
          console.error(
            `bench: ${result.id}: plain p50 ${secure?.plain.p50Millis.toFixed(3)} ms, auth+tls p50 ` +
              `${secure?.latency.p50Millis.toFixed(3)} ms (${secure?.ratio.p50.toFixed(2)}×, target ≤ ${P50_RATIO_TARGET})`,
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
    command: ['tsx', 'bench/security-cost.ts', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(loadAverageAtStart, { redis }),
    git: gitState(REPO_ROOT),
    config: {
      ...config,
      backends: options.backends,
      variants: BACKEND_VARIANTS,
      redisCluster: options.redisCluster ? 'given (--redis-cluster)' : 'started by the bench: 3 masters + 3 replicas',
      serverCpuProfDir: options.serverCpuProfDir,
      certificates: 'RSA 2048, made with openssl at start (@tessera/testkit makeTestCertificates)',
      featureTypes: 'per 10 features: 6 double, 2 int64, 1 string, 1 bool',
      transport:
        'gRPC over loopback to `tessera serve` child processes, one per variant, each also serving its plaintext baseline on a local listener (--local-port); one call in flight',
    },
    cases: results,
  };
  await mkdir(options.outDir, { recursive: true });
  const file = join(options.outDir, `security-cost-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(
    `\`${report.command}\` — ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, Redis ${redis ?? '?'}\n`,
  );
  console.log(securityMarkdownTable(results));
  console.log(`\nAll times in ms. Target: auth+tls p50 / plain p50 ≤ ${P50_RATIO_TARGET}. Full results: ${file}`);
}

await main();
