// Mixed load at a fixed rate for minutes: 90 % GetOnlineFeatures, 10 % Write (online + offline,
// write-behind), both open loop with ghz (one process per kind, side by side), against `tessera serve` as a child process — cluster mode
// (6-node Redis Cluster, BullMQ, a `tessera writer` into chDB) or embedded (LMDB, the outbox into
// chDB). The run is cut into segments of equal length: each gives read and write p50/p99 and the
// server's (and writer's) RSS and CPU, so drift in latency or memory shows. The baseline measured
// in the same run: the same reads as raw pipelined HMGETs at the same rate (cluster mode), the
// server's read-only p99 at the same read rate before the mixed load. See bench/README.md.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { toColumn, TesseraClient } from '@tessera/client';
import { GetOnlineFeaturesRequest, WriteRequest, WriteTarget, type Column } from '@tessera/proto';
import { ensureTool, startWriterCli } from '@tessera/testkit';
import { Cleanup } from './support/cleanup.js';
import { nodeList, redisNodes } from './support/redis-nodes.js';
import {
  JOIN_KEY,
  RANDOM_SEED,
  benchDefinitions,
  featureName,
  featureType,
  featureValues,
  populationIds,
  requestBatches,
  seededRandom,
  viewName,
  writeViews,
} from './support/dataset.js';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import { startServerProcess } from './support/server-process.js';
import { runGhz } from './support/ghz.js';
import { GHZ } from './support/load-tools.js';
import type { KindFigures, Segment } from './support/mixed-result.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/tessera.js');

export type Mode = 'cluster' | 'embedded';

interface Config {
  readonly population: number;
  readonly features: number;
  readonly readEntities: number;
  readonly writeRows: number;
  /** Requests per second, reads and writes together. */
  readonly rate: number;
  readonly writeFraction: number;
  readonly segments: number;
  readonly segmentSeconds: number;
  /** Distinct request bodies the load generator cycles through, per kind. */
  readonly bodies: number;
}

const FULL: Config = {
  population: 20_000,
  features: 10,
  readEntities: 10,
  writeRows: 10,
  rate: 200,
  writeFraction: 0.1,
  segments: 10,
  segmentSeconds: 30,
  bodies: 256,
};
const SMOKE: Config = { ...FULL, population: 500, rate: 100, segments: 2, segmentSeconds: 2, bodies: 8 };

function usage(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100, rssBytes: Number(rss ?? 0) * 1024 };
}

/** Where each kind's requests are (JSON arrays ghz takes in turn: too large for an argument). */
interface BodyFiles {
  readonly reads: string;
  readonly writes: string;
}

const EMPTY: KindFigures = { requests: 0, errors: 0, rps: 0, p50Millis: 0, p95Millis: 0, p99Millis: 0, maxMillis: 0 };

/**
 * One segment: reads and writes at their constant arrival rates, each from its own ghz process
 * (`--async --rps`: open loop), started together. `dropped` counts the requests the generators did not
 * start at the offered rates (target minus sent): the load generator falling behind, not the server.
 */
async function ghzSegment(
  bin: string,
  address: string,
  files: BodyFiles,
  readRate: number,
  writeRate: number,
  seconds: number,
): Promise<{ reads: KindFigures; writes: KindFigures; dropped: number }> {
  const rounded = (rate: number): number => (rate === 0 ? 0 : Math.max(1, Math.round(rate)));
  const kind = (call: string, file: string, rate: number): Promise<KindFigures> =>
    rate === 0
      ? Promise.resolve(EMPTY)
      : runGhz({
          bin,
          address,
          call,
          data: { file },
          seconds,
          rps: rounded(rate),
          concurrency: 4,
          connections: 1,
        }).then((figures) => ({ ...figures, rps: figures.requests / seconds }));
  const [reads, writes] = await Promise.all([
    kind('tessera.v1.FeatureStore.GetOnlineFeatures', files.reads, readRate),
    kind('tessera.v1.FeatureStore.Write', files.writes, writeRate),
  ]);
  const missing = (figures: KindFigures, rate: number): number =>
    Math.max(0, Math.round(rounded(rate) * seconds) - figures.requests);
  return { reads, writes, dropped: missing(reads, readRate) + missing(writes, writeRate) };
}

/**
 * Request bodies in proto3 JSON, as ghz takes them. Each Write's event time is ghz's
 * `{{.TimestampUnixMilli}}`, filled in per request, so every write is fresh.
 */
function requestBodies(config: Config, ids: readonly bigint[]): { reads: string; writes: string } {
  const view = viewName(config.features);
  const features = Array.from({ length: config.features }, (_, f) => `${view}:${featureName(f)}`);
  const random = seededRandom(RANDOM_SEED + 7);
  const reads = requestBatches(ids, config.readEntities, config.bodies, random).map((batch) =>
    GetOnlineFeaturesRequest.toJSON(
      GetOnlineFeaturesRequest.fromPartial({ features, entities: { [JOIN_KEY]: toColumn('int64', batch) } }),
    ),
  );
  const writes = requestBatches(ids, config.writeRows, config.bodies, random).map((batch) => {
    const values = featureValues(config.features, batch.length, random);
    const columns: Record<string, Column> = { [JOIN_KEY]: toColumn('int64', batch) };
    values.forEach((column, f) => {
      columns[featureName(f)] = toColumn(featureType(f), column);
    });
    const body = WriteRequest.toJSON(
      WriteRequest.fromPartial({ featureView: view, target: WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE, columns }),
    ) as Record<string, unknown>;
    return {
      ...body,
      eventTimestamps: { timestampValues: { values: batch.map(() => '{{.TimestampUnixMilli}}') } },
    };
  });
  return { reads: JSON.stringify(reads), writes: JSON.stringify(writes) };
}

/** Spread of a figure over the segments: max / min (1 = perfectly stable). */
function spread(values: readonly number[]): number {
  const positive = values.filter((v) => v > 0);
  return positive.length === 0 ? 0 : Math.max(...positive) / Math.min(...positive);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      mode: { type: 'string', default: 'cluster' },
      out: { type: 'string', default: join(REPO_ROOT, 'bench/results') },
      minutes: { type: 'string' },
      'redis-cluster': { type: 'string' },
    },
  });
  if (values.mode !== 'cluster' && values.mode !== 'embedded') {
    throw new Error(`--mode: cluster or embedded, got "${values.mode}"`);
  }
  const mode: Mode = values.mode;
  const base = values.smoke ? SMOKE : FULL;
  const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
  if (minutes !== undefined && !(minutes > 0)) throw new Error(`--minutes: a positive number, got "${values.minutes}"`);
  const config: Config =
    minutes === undefined ? base : { ...base, segments: Math.max(1, Math.round((minutes * 60) / base.segmentSeconds)) };
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const cleanup = new Cleanup();
  const segments: Segment[] = [];
  let readOnly: KindFigures | undefined;
  try {
    const ghzBin = await ensureTool(GHZ);
    const dir = await mkdtemp(join(tmpdir(), 'tessera-mixed-'));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    let serverArgs: string[];
    let writerPid: number | undefined;
    if (mode === 'cluster') {
      const nodes = await redisNodes(values['redis-cluster'], cleanup);
      const keyPrefix = `mixed-${process.pid}-${startedAt.getTime().toString(36)}:`;
      serverArgs = ['--redis-cluster', nodeList(nodes), '--key-prefix', keyPrefix];
      const writer = await startWriterCli(nodes, keyPrefix, join(dir, 'writer'));
      cleanup.add(() => writer.stop('SIGTERM'));
      writerPid = writer.child.pid;
    } else {
      serverArgs = ['--data-dir', join(dir, 'server')];
    }
    const server = await startServerProcess(CLI_BIN, serverArgs);
    cleanup.add(() => server.stop());
    const client = new TesseraClient({ address: server.address, timeoutMillis: 60_000 });
    cleanup.add(() => client.close());
    await client.apply(benchDefinitions([config.features]), { author: 'bench' });
    const ids = populationIds(config.population);
    await writeViews(client, ids, [config.features], 1_000);
    const bodies = requestBodies(config, ids);
    const files: BodyFiles = { reads: join(dir, 'reads.json'), writes: join(dir, 'writes.json') };
    await writeFile(files.reads, bodies.reads);
    await writeFile(files.writes, bodies.writes);
    const writeRate = config.rate * config.writeFraction;
    const readRate = config.rate - writeRate;

    // Baseline in the same run: the same reads alone, at the same read rate.
    const alone = await ghzSegment(ghzBin, server.address, files, readRate, 0, config.segmentSeconds);
    readOnly = alone.reads;
    console.error(`bench: reads alone at ${Math.round(readRate)}/s: p99 ${readOnly.p99Millis.toFixed(2)} ms`);

    for (let index = 0; index < config.segments; index += 1) {
      const serverBefore = usage(server.pid);
      const writerBefore = writerPid === undefined ? undefined : usage(writerPid);
      const started = performance.now();
      const figures = await ghzSegment(ghzBin, server.address, files, readRate, writeRate, config.segmentSeconds);
      const seconds = (performance.now() - started) / 1000;
      const serverAfter = usage(server.pid);
      const writerAfter = writerPid === undefined ? undefined : usage(writerPid);
      const segment: Segment = {
        index,
        ...figures,
        server: {
          rssBytes: serverAfter.rssBytes,
          cpuCores: (serverAfter.cpuSeconds - serverBefore.cpuSeconds) / seconds,
        },
        ...(writerBefore === undefined || writerAfter === undefined
          ? {}
          : {
              writer: {
                rssBytes: writerAfter.rssBytes,
                cpuCores: (writerAfter.cpuSeconds - writerBefore.cpuSeconds) / seconds,
              },
            }),
      };
      segments.push(segment);
      console.error(
        `bench: segment ${index + 1}/${config.segments}: reads ${Math.round(figures.reads.rps)}/s p99 ` +
          `${figures.reads.p99Millis.toFixed(2)} ms, writes ${Math.round(figures.writes.rps)}/s p99 ` +
          `${figures.writes.p99Millis.toFixed(2)} ms, errors ${figures.reads.errors + figures.writes.errors}, ` +
          `dropped ${figures.dropped}, server RSS ${(serverAfter.rssBytes / 1e6).toFixed(0)} MB`,
      );
    }
  } finally {
    await cleanup.run();
  }
  const first = segments[0];
  const last = segments.at(-1);
  const summary = {
    readP99SpreadAcrossSegments: spread(segments.map((s) => s.reads.p99Millis)),
    writeP99SpreadAcrossSegments: spread(segments.map((s) => s.writes.p99Millis)),
    readP99VsReadsAlone:
      readOnly === undefined || readOnly.p99Millis === 0
        ? null
        : Math.max(...segments.map((s) => s.reads.p99Millis)) / readOnly.p99Millis,
    serverRssGrowthBytes: first === undefined || last === undefined ? 0 : last.server.rssBytes - first.server.rssBytes,
    writerRssGrowthBytes:
      first?.writer === undefined || last?.writer === undefined ? null : last.writer.rssBytes - first.writer.rssBytes,
    errors: segments.reduce((sum, s) => sum + s.reads.errors + s.writes.errors, 0),
    dropped: segments.reduce((sum, s) => sum + s.dropped, 0),
  };
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['tsx', 'bench/mixed.ts', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(loadAverageAtStart, { ghz: GHZ.version }),
    git: gitState(REPO_ROOT),
    mode,
    config,
    readsAlone: readOnly,
    segments,
    summary,
  };
  await mkdir(values.out, { recursive: true });
  const file = join(values.out, `mixed-${mode}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(
    `mixed (${mode}): read p99 spread ${summary.readP99SpreadAcrossSegments.toFixed(2)}×, ` +
      `worst read p99 / reads alone ${summary.readP99VsReadsAlone?.toFixed(2) ?? '—'}×, server RSS growth ` +
      `${(summary.serverRssGrowthBytes / 1e6).toFixed(0)} MB, errors ${summary.errors}, dropped ${summary.dropped}`,
  );
  console.log(`Full results: ${file}`);
}

await main();
