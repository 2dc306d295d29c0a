// Sustained write throughput through WriteStream into online (Redis Cluster) + write-behind offline
// (BullMQ → writer → chDB), the offline lag at that rate, and the same rows written raw in the same
// run (pipelined HSET per master + direct chDB insert) as the baseline. See bench/README.md.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cluster } from 'ioredis';
import { encodeRow, entityKey, viewField, type OfflineBatch, type RegisteredView, type ValueType } from '@tessera/core';
import { TesseraClient, toColumn } from '@tessera/client';
import { ChdbExecutor, ClickHouseOfflineStore } from '@tessera/offline';
import { Durability, type WriteRequest } from '@tessera/proto';
import { openBullmqDeadLetters } from '@tessera/writebehind';
import { definitionsFromYaml, type RedisNodeAddress, startRedisCluster, startWriterCli } from '@tessera/testkit';
import { Cleanup } from './support/cleanup.js';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import { startServerProcess } from './support/server-process.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/tessera.js');
const requireFromIoredis = createRequire(import.meta.resolve('ioredis'));
const calculateSlot = requireFromIoredis('cluster-key-slot') as (key: string) => number;

interface Config {
  readonly seconds: number;
  readonly streams: number;
  readonly batchRows: number;
  readonly features: number;
  /** Longest wait for the queue to drain after the load, ms. */
  readonly drainTimeoutMillis: number;
}

const FULL: Config = { seconds: 20, streams: 4, batchRows: 1_000, features: 10, drainTimeoutMillis: 120_000 };
const SMOKE: Config = { seconds: 2, streams: 2, batchRows: 200, features: 10, drainTimeoutMillis: 60_000 };

function parseOptions(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      smoke: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      streams: { type: 'string' },
      'batch-rows': { type: 'string' },
      out: { type: 'string', default: join(REPO_ROOT, 'bench/results') },
      'redis-cluster': { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  });
  const base = values.smoke ? SMOKE : FULL;
  const config: Config = {
    ...base,
    ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
    ...(values.streams ? { streams: Number(values.streams) } : {}),
    ...(values['batch-rows'] ? { batchRows: Number(values['batch-rows']) } : {}),
  };
  const nodes = values['redis-cluster']?.split(',').map((item): RedisNodeAddress => {
    const [host, port] = item.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });
  return { config, outDir: values.out, nodes, cpuProf: values['cpu-prof'] };
}

const VIEW = 'write_bench';

function definitions(features: number) {
  const list = Array.from({ length: features }, (_, f) => `{ name: f${f}, type: double }`).join(', ');
  return definitionsFromYaml({
    'repo.yaml': `
project: writebench
entities: [{ name: user, join_keys: [{ name: user_id, type: int64 }] }]
feature_views:
  - name: ${VIEW}
    entities: [user]
    features: [${list}]
`,
  });
}

/** Batch `b` of a stream: rows with unique users, one event each, values from the row number. */
function batchValues(stream: number, b: number, config: Config): { users: bigint[]; ts: number[]; values: number[][] } {
  const first = (stream * 1_000_000_000 + b * config.batchRows) | 0;
  const users = Array.from(
    { length: config.batchRows },
    (_, i) => BigInt(stream) * 1_000_000_000n + BigInt(b * config.batchRows + i),
  );
  const ts = users.map((_, i) => 1_700_000_000_000 + ((first + i) % 1_000_000_000));
  const values = Array.from({ length: config.features }, (_, f) => users.map((_, i) => (i * 31 + f) / 7));
  return { users, ts, values };
}

function writeRequest(stream: number, b: number, config: Config): WriteRequest {
  const { users, ts, values } = batchValues(stream, b, config);
  const columns: WriteRequest['columns'] = { user_id: toColumn('int64', users) };
  values.forEach((column, f) => {
    columns[`f${f}`] = toColumn('double', column);
  });
  return {
    featureView: VIEW,
    columns,
    eventTimestamps: toColumn('timestamp', ts),
    target: 0,
    durability: 0,
    idempotencyKey: '',
  };
}

interface Throughput {
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  readonly featureValuesPerSecond: number;
}

function throughput(rows: number, millis: number, features: number): Throughput {
  const seconds = millis / 1000;
  return { rows, seconds, rowsPerSecond: rows / seconds, featureValuesPerSecond: (rows * features) / seconds };
}

/** Tessera: `streams` WriteStreams, each sending batches back to back for `seconds`. */
async function tesseraLoad(client: TesseraClient, config: Config): Promise<Throughput> {
  const started = performance.now();
  const deadline = started + config.seconds * 1000;
  let rows = 0;
  await Promise.all(
    Array.from({ length: config.streams }, async (_, stream) => {
      const response = await client.writeStream(
        (function* () {
          for (let b = 0; performance.now() < deadline; b++) yield writeRequest(stream, b, config);
        })(),
      );
      rows += Number(response.rows);
    }),
  );
  return throughput(rows, performance.now() - started, config.features);
}

interface WriteLatency {
  readonly calls: number;
  readonly p50Millis: number;
  readonly p99Millis: number;
}

/**
 * One unary Write of `rows` rows at a time, `calls` times, with the given durability: what a caller
 * waits per Write (write-behind: online + job stored; replicated: and a replica has both).
 */
async function unaryLatency(
  client: TesseraClient,
  config: Config,
  durability: Durability,
  calls: number,
): Promise<WriteLatency> {
  const millis: number[] = [];
  const stream = durability === Durability.DURABILITY_REPLICATED ? 90 : 80;
  for (let i = 0; i < calls; i++) {
    const request = { ...writeRequest(stream, i, { ...config, batchRows: 100 }), durability };
    const started = performance.now();
    await client.write(request);
    millis.push(performance.now() - started);
  }
  millis.sort((a, b) => a - b);
  const at = (q: number) => millis[Math.min(millis.length - 1, Math.floor(q * millis.length))] ?? 0;
  return { calls, p50Millis: at(0.5), p99Millis: at(0.99) };
}

/** Raw: the same rows as pipelined HSET per master (packed rows) and a direct chDB insert, together. */
async function rawLoad(
  cluster: Cluster,
  offline: ClickHouseOfflineStore,
  view: RegisteredView,
  config: Config,
  keyPrefix: string,
): Promise<Throughput> {
  const types: ValueType[] = Array.from({ length: config.features }, () => 'double');
  const field = viewField(view.id, view.version);
  const started = performance.now();
  const deadline = started + config.seconds * 1000;
  let rows = 0;
  await Promise.all(
    Array.from({ length: config.streams }, async (_, stream) => {
      for (let b = 0; performance.now() < deadline; b++) {
        const { users, ts, values } = batchValues(stream + 100, b, config);
        const groups = new Map<unknown, number[]>();
        const keys = users.map((u) => keyPrefix + entityKey(['user'], [u]));
        keys.forEach((key, i) => {
          const nodes = cluster.slots[calculateSlot(key)];
          const group = groups.get(nodes) ?? [];
          group.push(i);
          groups.set(nodes, group);
        });
        const batch: OfflineBatch = {
          joinKeyValues: users.map((u) => [u]),
          eventTsMillis: Float64Array.from(ts),
          featureValues: values,
        };
        await Promise.all([
          ...[...groups.values()].map(async (indices) => {
            const pipeline = cluster.pipeline();
            for (const i of indices) {
              pipeline.hset(
                keys[i] as string,
                field,
                encodeRow(
                  types,
                  ts[i] as number,
                  values.map((c) => c[i] as number),
                ),
              );
            }
            await pipeline.exec();
          }),
          offline.insert(view, batch),
        ]);
        rows += users.length;
      }
    }),
  );
  return throughput(rows, performance.now() - started, config.features);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { config, outDir, nodes: givenNodes } = options;
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const cleanup = new Cleanup();
  const keyPrefix = `wbench-${process.pid}-${startedAt.getTime().toString(36)}:`;
  let result: Record<string, unknown>;
  try {
    let nodes = givenNodes;
    if (!nodes) {
      const handle = await startRedisCluster();
      cleanup.add(() => handle.stop());
      nodes = [...handle.nodes];
    }
    const nodeList = nodes.map((n) => `${n.host}:${n.port}`).join(',');
    const dir = await mkdtemp(join(tmpdir(), 'tessera-write-bench-'));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));

    // --cpu-prof DIR: the server writes its CPU profile there when it stops.
    const profile = options.cpuProf === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProf];
    const server = await startServerProcess(CLI_BIN, ['--redis-cluster', nodeList, '--key-prefix', keyPrefix], profile);
    cleanup.add(() => server.stop());
    const client = new TesseraClient({ address: server.address, timeoutMillis: 60_000 });
    cleanup.add(() => client.close());
    await client.apply(definitions(config.features), { author: 'bench' });
    const writer = await startWriterCli(nodes, keyPrefix, join(dir, 'writer'));
    cleanup.add(() => writer.stop('SIGTERM'));
    const queue = openBullmqDeadLetters(nodes, keyPrefix);
    cleanup.add(() => queue.close());

    // Lag: the age of the oldest job not yet in ClickHouse, sampled through the run.
    const lagSamples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        lagSamples.push((await queue.stats()).oldestPendingMillis);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    const tessera = await tesseraLoad(client, config);
    const loadEnded = performance.now();
    let drained = false;
    while (performance.now() - loadEnded < config.drainTimeoutMillis) {
      if ((await queue.stats()).pendingJobs === 0) {
        drained = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const drainMillis = performance.now() - loadEnded;
    sampling = false;
    await sampler;
    const latencyCalls = config.seconds >= 10 ? 300 : 30;
    const writeBehindLatency = await unaryLatency(client, config, Durability.DURABILITY_WRITE_BEHIND, latencyCalls);
    const replicatedLatency = await unaryLatency(client, config, Durability.DURABILITY_REPLICATED, latencyCalls);
    console.error(
      `bench: unary Write of 100 rows p50/p99: write-behind ${writeBehindLatency.p50Millis.toFixed(2)}/${writeBehindLatency.p99Millis.toFixed(2)} ms, ` +
        `replicated ${replicatedLatency.p50Millis.toFixed(2)}/${replicatedLatency.p99Millis.toFixed(2)} ms`,
    );
    const deadLetters = (await queue.stats()).deadLetters;
    console.error(
      `bench: Tessera ${Math.round(tessera.featureValuesPerSecond)} feature values/s, drained ${drained} in ${drainMillis.toFixed(0)} ms`,
    );

    // Raw, after the Tessera run (nothing else in flight), in this process.
    const cluster = new Cluster(nodes.map(({ host, port }) => ({ host, port })));
    cleanup.add(() => cluster.quit().then(() => undefined));
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', () => resolve());
      cluster.once('error', reject);
    });
    const rawStore = await ClickHouseOfflineStore.open({
      executor: ChdbExecutor.open({ path: join(dir, 'raw-chdb') }),
      database: 'raw',
    });
    cleanup.add(() => rawStore.close());
    const view: RegisteredView = {
      name: 'raw_bench',
      entities: ['user'],
      features: Array.from({ length: config.features }, (_, f) => ({
        name: `f${f}`,
        type: 'double' as const,
        dimension: 0,
        constraints: { notNull: false, allowNaN: true },
        description: '',
        tags: {},
      })),
      ttlSeconds: 0,
      owner: 'bench',
      tags: {},
      description: '',
      id: 999,
      version: 1,
      joinKeys: [{ name: 'user_id', type: 'int64' }],
      createdAtMillis: 0,
      updatedAtMillis: 0,
    };
    await rawStore.ensureTables([view]);
    const raw = await rawLoad(cluster, rawStore, view, config, keyPrefix);
    console.error(`bench: raw ${Math.round(raw.featureValuesPerSecond)} feature values/s`);

    const sortedLag = [...lagSamples].sort((a, b) => a - b);
    const quantile = (q: number) => sortedLag[Math.min(sortedLag.length - 1, Math.floor(q * sortedLag.length))] ?? 0;
    result = {
      tessera,
      raw,
      ratio: tessera.featureValuesPerSecond / raw.featureValuesPerSecond,
      lag: {
        samples: lagSamples.length,
        p50Millis: quantile(0.5),
        p99Millis: quantile(0.99),
        maxMillis: sortedLag.at(-1) ?? 0,
        drainedAfterLoadMillis: drainMillis,
        drained,
      },
      deadLetters,
      unaryWrite100Rows: { writeBehind: writeBehindLatency, replicated: replicatedLatency },
      targets: {
        featureValuesPerSecond: 100_000,
        lagMillis: 2_000,
        met: tessera.featureValuesPerSecond >= 100_000 && (sortedLag.at(-1) ?? 0) < 2_000 && drained,
      },
    };
  } finally {
    await cleanup.run();
  }
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['tsx', 'bench/write-throughput.ts', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(loadAverageAtStart, {}),
    git: gitState(REPO_ROOT),
    config: {
      ...config,
      path: 'WriteStream → `tessera serve --redis-cluster` (online LWW + BullMQ job per group commit) → `tessera writer` (chDB)',
      raw: 'the same batches in this process: pipelined HSET of packed rows per master + one chDB insert per batch, together',
    },
    result,
  };
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `write-throughput-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
  console.log(`Full results: ${file}`);
}

await main();
