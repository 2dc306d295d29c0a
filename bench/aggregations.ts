// Window aggregations end to end (docs/design/window-aggregations.md §6.4 items 1 and 2), through
// `tessera serve` processes, on the 6-node Redis Cluster (with a `tessera writer`) and embedded:
//  1. writes: WriteStream rows/s into an event view with 3 window aggregations (count 7d/1h, sum
//     30d/1d, mean 30d/1d) against the same event view without aggregations — same rows, batch sizes
//     and streams, the two alternating in rounds (order flipped every round); the ratio, target ≥ 0.5;
//  2. reads: GetOnlineFeatures of 100 entities × 6 windowed features (the seeds' purchases: counts
//     7d and 30d, sum and mean 30d, approx distinct 30d, unbounded last_ts) against 100 × 6 plain
//     features of the same entities, one call in flight, interleaved: p50/p99 and the ratio, target ≤ 2×.
//     Entities: 90 % sparse (1–10 events), 10 % busy (`--busy-per-day` events a day, default 1,000).
//  Cluster mode also reports Redis MEMORY USAGE of a busy and a sparse entity's hash and dedup set.
// Events are written live, so they must lie within the view's allowed_lateness (7 d here, the
// maximum): the busy entities' history spans 7 days, not 30 (the online rebuild from offline history
// is issue 17's increment 7); the 30-day windows hold those 7 days.
//
//   npm run bench -- aggregations [--smoke] [--modes cluster,embedded] [--busy-per-day 1000]
//     [--server-cpu-prof DIR]   (the servers run with --cpu-prof, their profiles written into DIR)
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cluster } from 'ioredis';
import { entityKey } from '@tessera/core';
import { TesseraClient, fromColumn, toColumn } from '@tessera/client';
import { Durability, type WriteRequest } from '@tessera/proto';
import { definitionsFromYaml, startRedisCluster, startWriterCli, type RedisNodeAddress } from '@tessera/testkit';
import {
  aggregationsMarkdown,
  type AggregationsModeResult,
  type MemoryFigure,
  type WriteRound,
} from './support/aggregations-report.js';
import { Cleanup } from './support/cleanup.js';
import { seededRandom } from './support/dataset.js';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import { measureInterleaved } from './support/latency.js';
import { startServerProcess } from './support/server-process.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/tessera.js');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface Config {
  readonly rounds: number;
  readonly roundSeconds: number;
  readonly streams: number;
  readonly batchRows: number;
  /** Entities the write rounds spread their rows over. */
  readonly writeEntities: number;
  readonly readEntities: number;
  readonly busyShare: number;
  readonly busyPerDay: number;
  readonly historyDays: number;
  readonly readCalls: number;
  readonly maxReadMillis: number;
}

const FULL: Config = {
  rounds: 4,
  roundSeconds: 5,
  streams: 4,
  batchRows: 500,
  writeEntities: 20_000,
  readEntities: 200,
  busyShare: 0.1,
  busyPerDay: 1_000,
  historyDays: 7,
  readCalls: 1_000,
  maxReadMillis: 120_000,
};
const SMOKE: Config = {
  rounds: 1,
  roundSeconds: 1,
  streams: 2,
  batchRows: 100,
  writeEntities: 1_000,
  readEntities: 100,
  busyShare: 0.1,
  busyPerDay: 20,
  historyDays: 2,
  readCalls: 20,
  maxReadMillis: 20_000,
};

const WRITE_RATIO_TARGET = 0.5;
const READ_RATIO_TARGET = 2;
const READ_BATCH = 100;
const READ_ID_BASE = 50_000_000n;

const YAML = `
project: aggbench
entities: [{ name: customer, join_keys: [{ name: customer_id, type: int64 }] }]
feature_views:
  - name: agg_events
    kind: events
    entities: [customer]
    allowed_lateness: 7d
    features: [{ name: amount, type: double }, { name: product_id, type: string }]
    aggregations:
      - { name: events_7d, function: count, window: 7d, hop: 1h }
      - { name: amount_30d, function: sum, input: amount, window: 30d, hop: 1d }
      - { name: mean_amount_30d, function: mean, input: amount, window: 30d, hop: 1d }
  - name: plain_events
    kind: events
    entities: [customer]
    allowed_lateness: 7d
    features: [{ name: amount, type: double }, { name: product_id, type: string }]
  - name: purchases
    kind: events
    entities: [customer]
    allowed_lateness: 7d
    features: [{ name: amount, type: double }, { name: product_id, type: string }]
    aggregations:
      - { name: purchases_7d, function: count, window: 7d }
      - { name: purchases_30d, function: count, window: 30d }
      - { name: revenue_30d, function: sum, input: amount, window: 30d }
      - { name: avg_order_30d, function: mean, input: amount, window: 30d }
      - { name: last_purchase_at, function: last_ts, window: unbounded }
      - { name: distinct_products_30d, function: approx_distinct, input: product_id, window: 30d }
  - name: profile
    entities: [customer]
    features: [${Array.from({ length: 6 }, (_, f) => `{ name: f${f}, type: double }`).join(', ')}]
`;
const WINDOWED = [
  'purchases:purchases_7d',
  'purchases:purchases_30d',
  'purchases:revenue_30d',
  'purchases:avg_order_30d',
  'purchases:last_purchase_at',
  'purchases:distinct_products_30d',
];
const PLAIN = Array.from({ length: 6 }, (_, f) => `profile:f${f}`);

function parseOptions(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      smoke: { type: 'boolean', default: false },
      modes: { type: 'string', default: 'cluster,embedded' },
      'busy-per-day': { type: 'string' },
      rounds: { type: 'string' },
      out: { type: 'string', default: join(REPO_ROOT, 'bench/results') },
      'redis-cluster': { type: 'string' },
      'server-cpu-prof': { type: 'string' },
    },
  });
  const base = values.smoke ? SMOKE : FULL;
  const config: Config = {
    ...base,
    ...(values['busy-per-day'] ? { busyPerDay: Number(values['busy-per-day']) } : {}),
    ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
  };
  const modes = values.modes.split(',').map((m) => {
    if (m !== 'cluster' && m !== 'embedded') throw new Error(`--modes: ${m} is not cluster or embedded`);
    return m;
  });
  const nodes = values['redis-cluster']?.split(',').map((item): RedisNodeAddress => {
    const [host, port] = item.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });
  const serverNodeArgs = values['server-cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['server-cpu-prof']}`] : [];
  return { config, modes, outDir: values.out, nodes, smoke: values.smoke, serverNodeArgs };
}

/**
 * Write batch `b` of stream `s` in round-phase `phase`: unique rows (entity, time, amount) that no
 * other batch repeats, so no event is a duplicate; times within the last 50 minutes (live, eligible).
 */
function writeBatch(view: string, phase: number, s: number, b: number, config: Config, now: number): WriteRequest {
  const first = ((phase * 64 + s) * 1_000_000 + b) * config.batchRows;
  const ids: bigint[] = [];
  const ts: number[] = [];
  const amounts: number[] = [];
  const products: string[] = [];
  for (let i = 0; i < config.batchRows; i++) {
    const n = first + i;
    ids.push(BigInt((b * config.batchRows + i) % config.writeEntities));
    ts.push(now - 50 * MINUTE + (n % (45 * MINUTE)));
    amounts.push((n % 997) / 4);
    products.push(`p${n % 50}`);
  }
  return {
    featureView: view,
    columns: {
      customer_id: toColumn('int64', ids),
      amount: toColumn('double', amounts),
      product_id: toColumn('string', products),
    },
    eventTimestamps: toColumn('timestamp', ts),
    target: 0,
    durability: 0,
    idempotencyKey: '',
  };
}

/** `streams` WriteStreams sending batches back to back for `seconds`: rows written and the time taken. */
async function writePhase(
  client: TesseraClient,
  view: string,
  phase: number,
  config: Config,
): Promise<{ rows: number; seconds: number }> {
  const now = Date.now();
  const started = performance.now();
  const deadline = started + config.roundSeconds * 1000;
  let rows = 0;
  await Promise.all(
    Array.from({ length: config.streams }, async (_, s) => {
      const response = await client.writeStream(
        (function* () {
          for (let b = 0; performance.now() < deadline; b++) yield writeBatch(view, phase, s, b, config, now);
        })(),
      );
      rows += Number(response.rows);
    }),
  );
  return { rows, seconds: (performance.now() - started) / 1000 };
}

/** The read entities: the first `busyShare` busy, the rest sparse (1–10 events). */
function readDataset(config: Config, now: number) {
  const random = seededRandom(0xa66);
  const busy = Math.round(config.readEntities * config.busyShare);
  const events: { id: bigint; ts: number; amount: number; product: string }[] = [];
  const span = config.historyDays * DAY - 2 * HOUR;
  for (let e = 0; e < config.readEntities; e++) {
    const id = READ_ID_BASE + BigInt(e);
    const count = e < busy ? config.busyPerDay * config.historyDays : 1 + Math.floor(random() * 10);
    for (let k = 0; k < count; k++) {
      // Spread over the history, distinct per entity (k ms apart at least), newest a minute ago.
      const ts = now - MINUTE - Math.floor((span * k) / count) - (k % 1000);
      events.push({ id, ts, amount: Math.floor(random() * 400) / 4, product: `p${Math.floor(random() * 500)}` });
    }
  }
  // Interleave entities the way a stream would: by time.
  events.sort((a, b) => a.ts - b.ts);
  return { busy, events };
}

async function loadReadDataset(client: TesseraClient, config: Config): Promise<{ events: number; seconds: number }> {
  const now = Date.now();
  const { events } = readDataset(config, now);
  const started = performance.now();
  const BATCH = 2_000;
  const batches = function* (): Generator<WriteRequest> {
    for (let i = 0; i < events.length; i += BATCH) {
      const slice = events.slice(i, i + BATCH);
      yield {
        featureView: 'purchases',
        columns: {
          customer_id: toColumn(
            'int64',
            slice.map((e) => e.id),
          ),
          amount: toColumn(
            'double',
            slice.map((e) => e.amount),
          ),
          product_id: toColumn(
            'string',
            slice.map((e) => e.product),
          ),
        },
        eventTimestamps: toColumn(
          'timestamp',
          slice.map((e) => e.ts),
        ),
        target: 0,
        durability: 0,
        idempotencyKey: '',
      };
    }
  };
  const response = await client.writeStream(batches());
  if (Number(response.rows) !== events.length) throw new Error(`loaded ${response.rows} of ${events.length} events`);
  const ids = Array.from({ length: config.readEntities }, (_, e) => READ_ID_BASE + BigInt(e));
  await client.write({
    featureView: 'profile',
    durability: Durability.DURABILITY_WRITE_BEHIND,
    columns: {
      customer_id: toColumn('int64', ids),
      ...Object.fromEntries(
        Array.from({ length: 6 }, (_, f) => [
          `f${f}`,
          toColumn(
            'double',
            ids.map((_, i) => i + f / 8),
          ),
        ]),
      ),
    },
    eventTimestamps: toColumn(
      'timestamp',
      ids.map(() => now - MINUTE),
    ),
  });
  return { events: events.length, seconds: (performance.now() - started) / 1000 };
}

/** Requests of 100 entities: 10 % busy, the rest sparse, drawn (seeded) from the read entities. */
function readRequests(config: Config): bigint[][] {
  const random = seededRandom(0xbee);
  const busy = Math.round(config.readEntities * config.busyShare);
  const pick = (from: number, to: number, n: number): bigint[] => {
    const all = Array.from({ length: to - from }, (_, i) => READ_ID_BASE + BigInt(from + i));
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, n);
  };
  const busyPerRequest = Math.round(READ_BATCH * config.busyShare);
  return Array.from({ length: 16 }, () => [
    ...pick(0, busy, busyPerRequest),
    ...pick(busy, config.readEntities, READ_BATCH - busyPerRequest),
  ]);
}

/** MEMORY USAGE of the first busy and the first sparse read entity: its hash and its dedup set(s). */
async function memory(nodes: readonly RedisNodeAddress[], keyPrefix: string, config: Config): Promise<MemoryFigure[]> {
  const cluster = new Cluster(nodes.map(({ host, port }) => ({ host, port })));
  try {
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', () => resolve());
      cluster.once('error', reject);
    });
    const busy = Math.round(config.readEntities * config.busyShare);
    const out: MemoryFigure[] = [];
    for (const [density, index] of [
      ['busy', 0],
      ['sparse', busy],
    ] as const) {
      const key = keyPrefix + entityKey(['customer'], [READ_ID_BASE + BigInt(index)]);
      const hashBytes = Number(await cluster.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      let dedupBytes = 0;
      for (const master of cluster.nodes('master')) {
        const [, found] = await master.scan('0', 'MATCH', `${key}:d:*`, 'COUNT', '100000');
        for (const k of found) dedupBytes += Number(await cluster.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
      }
      const events = index < busy ? config.busyPerDay * config.historyDays : undefined;
      out.push({ density, hashBytes, dedupBytes, ...(events === undefined ? {} : { events }) });
    }
    return out;
  } finally {
    cluster.disconnect();
  }
}

async function runMode(
  mode: 'cluster' | 'embedded',
  config: Config,
  givenNodes: readonly RedisNodeAddress[] | undefined,
  cleanup: Cleanup,
  serverNodeArgs: readonly string[],
): Promise<AggregationsModeResult> {
  const dir = await mkdtemp(join(tmpdir(), `tessera-agg-bench-${mode}-`));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  let nodes = givenNodes;
  const keyPrefix = `aggbench-${process.pid}-${Date.now().toString(36)}:`;
  let args: string[];
  if (mode === 'cluster') {
    if (!nodes) {
      const handle = await startRedisCluster();
      cleanup.add(() => handle.stop());
      nodes = [...handle.nodes];
    }
    args = ['--redis-cluster', nodes.map((n) => `${n.host}:${n.port}`).join(','), '--key-prefix', keyPrefix];
  } else {
    args = ['--data-dir', join(dir, 'store')];
  }
  const server = await startServerProcess(CLI_BIN, args, serverNodeArgs);
  cleanup.add(() => server.stop());
  const client = new TesseraClient({ address: server.address, timeoutMillis: 120_000 });
  cleanup.add(() => client.close());
  await client.apply(definitionsFromYaml({ 'repo.yaml': YAML }), { author: 'bench' });
  if (mode === 'cluster' && nodes) {
    const writer = await startWriterCli(nodes, keyPrefix, join(dir, 'writer'));
    cleanup.add(() => writer.stop('SIGTERM'));
  }

  // 1. Writes, alternating, the order flipped every round.
  const rounds: WriteRound[] = [];
  let phase = 0;
  for (let r = 0; r < config.rounds; r++) {
    const order = r % 2 === 0 ? (['agg_events', 'plain_events'] as const) : (['plain_events', 'agg_events'] as const);
    const figures: Partial<Record<'agg_events' | 'plain_events', { rows: number; seconds: number }>> = {};
    for (const view of order) figures[view] = await writePhase(client, view, phase++, config);
    const agg = figures.agg_events!;
    const plain = figures.plain_events!;
    rounds.push({
      aggregatedRowsPerSecond: agg.rows / agg.seconds,
      plainRowsPerSecond: plain.rows / plain.seconds,
    });
    console.error(
      `bench: ${mode} round ${r + 1}: aggregated ${Math.round(agg.rows / agg.seconds)} rows/s, plain ${Math.round(plain.rows / plain.seconds)} rows/s`,
    );
  }
  const aggregated = rounds.reduce((s, r) => s + r.aggregatedRowsPerSecond, 0) / rounds.length;
  const plain = rounds.reduce((s, r) => s + r.plainRowsPerSecond, 0) / rounds.length;

  // 2. Reads.
  const loaded = await loadReadDataset(client, config);
  console.error(`bench: ${mode} loaded ${loaded.events} events in ${loaded.seconds.toFixed(1)} s`);
  const requests = readRequests(config);
  const busyCheck = await client.getOnlineFeaturesRaw({
    features: ['purchases:purchases_7d'],
    entities: { customer_id: toColumn('int64', [READ_ID_BASE]) },
  });
  const busyCount = Number(fromColumn(busyCheck.features[0]!.values!)[0] ?? -1);
  const read = (features: string[]) => (i: number) =>
    client.getOnlineFeaturesRaw({
      features,
      entities: { customer_id: toColumn('int64', requests[i % requests.length]!) },
    });
  const latency = await measureInterleaved(
    [
      { name: 'windowed', call: read(WINDOWED) },
      { name: 'plain', call: read(PLAIN) },
    ],
    {
      warmupCalls: Math.min(50, config.readCalls),
      maxWarmupMillis: 10_000,
      calls: config.readCalls,
      maxCaseMillis: config.maxReadMillis,
      blockCalls: Math.min(50, config.readCalls),
    },
  );
  const windowed = latency.get('windowed')!;
  const plainRead = latency.get('plain')!;
  const memoryFigures = mode === 'cluster' && nodes ? await memory(nodes, keyPrefix, config) : [];
  return {
    mode,
    writes: {
      rounds,
      aggregatedRowsPerSecond: aggregated,
      plainRowsPerSecond: plain,
      ratio: aggregated / plain,
      target: WRITE_RATIO_TARGET,
    },
    reads: {
      loadedEvents: loaded.events,
      loadSeconds: loaded.seconds,
      busyEntityCount7d: busyCount,
      windowed,
      plain: plainRead,
      ratio: { p50: windowed.p50Millis / plainRead.p50Millis, p99: windowed.p99Millis / plainRead.p99Millis },
      target: READ_RATIO_TARGET,
    },
    memory: memoryFigures,
  };
}

async function main(): Promise<void> {
  const { config, modes, outDir, nodes, smoke, serverNodeArgs } = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const cleanup = new Cleanup();
  const results: AggregationsModeResult[] = [];
  try {
    for (const mode of modes) results.push(await runMode(mode, config, nodes, cleanup, serverNodeArgs));
  } finally {
    await cleanup.run();
  }
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['tsx', 'bench/aggregations.ts', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(loadAverageAtStart, {}),
    git: gitState(REPO_ROOT),
    config: { ...config, smoke, readBatch: READ_BATCH, windowed: WINDOWED, plain: PLAIN },
    results,
  };
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `aggregations-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(aggregationsMarkdown(results, report.machine));
  console.log(`Full results: ${file}`);
}

await main();
