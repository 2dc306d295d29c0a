// Window aggregations in GetHistorical (design §6.4 item 3): the six seed features of an event view
// (count 7d/1h, count 30d/1d, sum and mean 30d/1d, approx_distinct 30d/1d, last_ts unbounded),
// computed by Tessera's path (runHistorical: entity SELECT materialised, range join over the main
// table FINAL, IRs finalised in Node, Arrow chunks) against the same range join written by hand in
// chDB (no FINAL, ClickHouse's own uniqHLL12, the result streamed as Arrow). Each measurement runs in
// its own child process (chDB keeps its peak memory until the process ends): time and peak RSS.
// `--baseline FILE` measures a second build of @tessera/offline beside them (its dist/index.js, e.g. a
// copy of main's `packages/offline/dist` kept inside packages/offline so it resolves @tessera/core),
// interleaved with the others: a before/after on the same machine state.
//   tsx bench/historical-windows.ts [--events 1000000] [--entities 10000] [--rows 100000] [--repetitions 2] [--smoke] [--out DIR] [--baseline FILE]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { RecordBatchReader } from 'apache-arrow';
import {
  aggregationResultType,
  type AggregationFunction,
  type RegisteredView,
  type ResolvedFeatures,
} from '@tessera/core';
import { ChdbExecutor, createDatabaseSql, createTableSql, runHistorical } from '@tessera/offline';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const DATABASE = 'tessera';
const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Events are spread over 30 days before END; entity rows fall in the same 30 days. */
const END = Date.UTC(2025, 0, 31);

interface Params {
  readonly events: number;
  readonly entities: number;
  readonly rows: number;
}

type Task =
  | { readonly kind: 'prepare'; readonly dataDir: string; readonly params: Params }
  | { readonly kind: 'tessera' | 'hand'; readonly dataDir: string }
  | { readonly kind: 'baseline'; readonly dataDir: string; readonly module: string };

interface Measured {
  readonly kind: Task['kind'];
  readonly millis: number;
  readonly rows: number;
  readonly peakRssBytes: number;
  /** CPU time of the process (all threads, chDB's included), user + system. */
  readonly cpuMillis: number;
  /** Σ of the 30-day counts over all rows: the two contenders must agree. */
  readonly checksum: string;
  /** Σ of the distinct-count estimates (Tessera's builds only: the hand query uses uniqHLL12). */
  readonly distinctChecksum?: string;
}

const AGGREGATIONS: readonly [string, AggregationFunction, string, number, number][] = [
  ['purchases_7d', 'count', '', 7 * DAY, HOUR],
  ['purchases_30d', 'count', '', 30 * DAY, DAY],
  ['revenue_30d', 'sum', 'amount', 30 * DAY, DAY],
  ['avg_order_30d', 'mean', 'amount', 30 * DAY, DAY],
  ['distinct_products_30d', 'approx_distinct', 'product', 30 * DAY, DAY],
  ['last_purchase_at', 'last_ts', '', 0, 0],
];

export const VIEW: RegisteredView = {
  name: 'purchases',
  entities: ['customer'],
  features: [
    {
      name: 'amount',
      type: 'double',
      dimension: 0,
      constraints: { notNull: false, allowNaN: false },
      description: '',
      tags: {},
    },
    {
      name: 'product',
      type: 'string',
      dimension: 0,
      constraints: { notNull: false, allowNaN: false },
      description: '',
      tags: {},
    },
  ],
  ttlSeconds: 0,
  owner: 'bench',
  tags: {},
  description: '',
  id: 1,
  version: 1,
  joinKeys: [{ name: 'customer_id', type: 'int64' }],
  createdAtMillis: 0,
  updatedAtMillis: 0,
  kind: 'events',
  events: { allowedLatenessMillis: HOUR, futureToleranceMillis: 60_000 },
  aggregations: AGGREGATIONS.map(([name, fn, input, windowMillis, hopMillis]) => ({
    name,
    function: fn,
    input,
    windowMillis,
    hopMillis,
    n: 0,
    precision: fn === 'approx_distinct' ? 12 : 0,
    groupBy: '',
    description: '',
    tags: {},
    type: aggregationResultType(fn, input === 'amount' ? 'double' : input === 'product' ? 'string' : undefined),
    specVersion: 1,
    state: 'ready' as const,
  })),
};

/** The six aggregations as the registry resolves their refs. */
export function requested(): ResolvedFeatures {
  return {
    sequence: 0,
    views: [{ view: VIEW, field: '', featureIndexes: [], refs: [], aggregationIndexes: AGGREGATIONS.map((_, i) => i) }],
    features: AGGREGATIONS.map(([name], i) => ({
      viewSlot: 0,
      featureIndex: -1,
      aggregationIndex: i,
      ref: `purchases@1:${name}`,
      name: `purchases:${name}`,
      type: VIEW.aggregations![i]!.type,
    })),
  };
}

const ROWS_TABLE = `${DATABASE}.bench_rows`;
const EVENTS_TABLE = `${DATABASE}.fv_purchases__v1`;

function peakRss(): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

async function prepare(executor: ChdbExecutor, p: Params): Promise<void> {
  await executor.command(createDatabaseSql({ database: DATABASE }));
  for (const sql of createTableSql(VIEW, { database: DATABASE })) await executor.command(sql);
  const span = 30 * DAY;
  await executor.command(
    `INSERT INTO ${EVENTS_TABLE} (customer_id, event_ts, created_ts, fp, online_gen, amount, product) ` +
      `SELECT toInt64(number % ${p.entities}), fromUnixTimestamp64Milli(toInt64(${END - span} + cityHash64(number, 1) % ${span}), 'UTC'), ` +
      `now64(6), MD5(toString(number)), 0, (cityHash64(number, 2) % 10000) / 100.0, concat('p', toString(cityHash64(number, 3) % 1000)) ` +
      `FROM numbers(${p.events})`,
  );
  await executor.command(
    `CREATE TABLE ${ROWS_TABLE} ENGINE = MergeTree ORDER BY rn AS SELECT number AS rn, toInt64(cityHash64(number, 4) % ${p.entities}) AS customer_id, ` +
      `fromUnixTimestamp64Milli(toInt64(${END - span} + cityHash64(number, 5) % ${span}), 'UTC') AS event_ts FROM numbers(${p.rows})`,
  );
}

/** The hand-written range join: the same windows, no dedup, ClickHouse's own sketch, Arrow out. */
function handSql(): string {
  const start = (w: number, h: number): string => `((t - ${w}) - ((((t - ${w}) % ${h}) + ${h}) % ${h}))`;
  return (
    `SELECT e.rn AS row_id, a.c7, a.c30, a.rev, a.avg_order, a.distinct_products, a.last_at FROM ` +
    `${ROWS_TABLE} AS e ` +
    `LEFT JOIN (SELECT r.rn AS rn, countIf(x.ts >= r.s7) AS c7, countIf(x.ts >= r.s30) AS c30, ` +
    `sumIf(x.amount, x.ts >= r.s30) AS rev, avgIf(x.amount, x.ts >= r.s30) AS avg_order, ` +
    `uniqHLL12If(x.product, x.ts >= r.s30) AS distinct_products, max(x.ts) AS last_at ` +
    `FROM (SELECT customer_id, toUnixTimestamp64Milli(event_ts) AS ts, amount, product FROM ${EVENTS_TABLE} ` +
    `WHERE customer_id IN (SELECT customer_id FROM ${ROWS_TABLE})) AS x ` +
    `INNER JOIN (SELECT rn, customer_id, toUnixTimestamp64Milli(event_ts) AS t, ` +
    `${start(7 * DAY, HOUR)} AS s7, ${start(30 * DAY, DAY)} AS s30 FROM ${ROWS_TABLE}) AS r ON x.customer_id = r.customer_id ` +
    `WHERE x.ts <= r.t GROUP BY r.rn) AS a ON a.rn = e.rn ORDER BY row_id ` +
    `SETTINGS join_use_nulls = 1, output_format_arrow_compression_method = 'none'`
  );
}

async function measure(task: Task): Promise<Measured> {
  const executor = ChdbExecutor.open({ path: task.dataDir });
  try {
    const started = performance.now();
    const cpu = process.cpuUsage();
    let rows = 0;
    let checksum = 0n;
    let distinct: bigint | undefined;
    if (task.kind === 'prepare') {
      await prepare(executor, task.params);
    } else if (task.kind === 'hand') {
      const stream = executor.queryStream(handSql(), undefined, { format: 'ArrowStream' });
      const iterator = stream[Symbol.asyncIterator]();
      for await (const reader of RecordBatchReader.readAll({
        [Symbol.asyncIterator]: () => ({ next: () => iterator.next() }),
      }))
        for await (const batch of reader) {
          rows += batch.numRows;
          const c30 = batch.getChild('c30');
          for (let i = 0; i < batch.numRows; i++) checksum += BigInt((c30?.get(i) as bigint | number | null) ?? 0);
        }
    } else {
      const run =
        task.kind === 'baseline'
          ? ((await import(task.module)) as { runHistorical: typeof runHistorical }).runHistorical
          : runHistorical;
      const chunks = run(executor, DATABASE, {
        entities: { kind: 'sql', sql: `SELECT customer_id, event_ts FROM ${ROWS_TABLE}` },
        features: {
          sequence: 0,
          views: [
            { view: VIEW, field: '', featureIndexes: [], refs: [], aggregationIndexes: AGGREGATIONS.map((_, i) => i) },
          ],
          features: AGGREGATIONS.map(([name], i) => ({
            viewSlot: 0,
            featureIndex: -1,
            aggregationIndex: i,
            ref: `purchases@1:${name}`,
            name: `purchases:${name}`,
            type: VIEW.aggregations![i]!.type,
          })),
        },
        chunkRows: 65_536,
        format: 'arrow',
      });
      for await (const chunk of chunks) {
        rows += chunk.rowCount;
        for await (const batch of RecordBatchReader.from(chunk.arrowIpc)) {
          const c30 = batch.getChild('purchases__purchases_30d');
          const estimates = batch.getChild('purchases__distinct_products_30d');
          for (let i = 0; i < batch.numRows; i++) {
            checksum += BigInt((c30?.get(i) as bigint | null) ?? 0n);
            distinct = (distinct ?? 0n) + ((estimates?.get(i) as bigint | null) ?? 0n);
          }
        }
      }
    }
    const used = process.cpuUsage(cpu);
    return {
      kind: task.kind,
      millis: performance.now() - started,
      cpuMillis: (used.user + used.system) / 1000,
      rows,
      peakRssBytes: peakRss(),
      checksum: String(checksum),
      ...(distinct === undefined ? {} : { distinctChecksum: String(distinct) }),
    };
  } finally {
    await executor.close();
  }
}

function child(task: Task): Promise<Measured> {
  const tsx = join(REPO_ROOT, 'node_modules/.bin/tsx');
  return new Promise((resolve, reject) => {
    const proc = spawn(tsx, [SELF, '--child', JSON.stringify(task)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    proc.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || line === undefined) reject(new Error(`${task.kind} child failed (exit ${code})`));
      else resolve(JSON.parse(line.slice('RESULT '.length)) as Measured);
    });
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      events: { type: 'string' },
      entities: { type: 'string' },
      rows: { type: 'string' },
      repetitions: { type: 'string' },
      out: { type: 'string' },
      baseline: { type: 'string' },
    },
  });
  if (values.child !== undefined) {
    console.log(`RESULT ${JSON.stringify(await measure(JSON.parse(values.child) as Task))}`);
    return;
  }
  const smoke = values.smoke;
  const params: Params = {
    events: Number(values.events ?? (smoke ? 20_000 : 1_000_000)),
    entities: Number(values.entities ?? (smoke ? 200 : 10_000)),
    rows: Number(values.rows ?? (smoke ? 2_000 : 100_000)),
  };
  const repetitions = Number(values.repetitions ?? (smoke ? 1 : 2));
  const load = loadAtStart();
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-windows-'));
  try {
    const prepared = await child({ kind: 'prepare', dataDir, params });
    console.error(`windows: prepared ${params.events} events in ${(prepared.millis / 1000).toFixed(1)} s`);
    const runs: Measured[] = [];
    // Interleaved, so load drift hits both contenders alike.
    const baseline = values.baseline === undefined ? undefined : pathToFileURL(resolve(values.baseline)).href;
    for (let r = 0; r < repetitions; r++) {
      for (const kind of ['hand', 'tessera'] as const) runs.push(await child({ kind, dataDir }));
      if (baseline !== undefined) runs.push(await child({ kind: 'baseline', dataDir, module: baseline }));
    }
    const of = (kind: Measured['kind']) => runs.filter((m) => m.kind === kind);
    const summary = (kind: Measured['kind']) => ({
      medianMillis: median(of(kind).map((m) => m.millis)),
      medianCpuMillis: median(of(kind).map((m) => m.cpuMillis)),
      peakRssMaxBytes: Math.max(...of(kind).map((m) => m.peakRssBytes)),
    });
    const hand = summary('hand');
    const tessera = summary('tessera');
    const before = baseline === undefined ? undefined : summary('baseline');
    const checksums = [...new Set(runs.map((m) => m.checksum))];
    const distinctChecksums = [
      ...new Set(runs.flatMap((m) => (m.distinctChecksum === undefined ? [] : [m.distinctChecksum]))),
    ];
    const report = {
      machine: machineInfo(load, {}),
      git: gitState(REPO_ROOT),
      params,
      repetitions,
      runs,
      hand,
      tessera,
      ratio: {
        time: tessera.medianMillis / hand.medianMillis,
        cpu: tessera.medianCpuMillis / hand.medianCpuMillis,
        peakRss: tessera.peakRssMaxBytes / hand.peakRssMaxBytes,
      },
      ...(before === undefined
        ? {}
        : {
            baseline: {
              module: values.baseline,
              ...before,
              ratio: {
                time: before.medianMillis / hand.medianMillis,
                cpu: before.medianCpuMillis / hand.medianCpuMillis,
                peakRss: before.peakRssMaxBytes / hand.peakRssMaxBytes,
              },
            },
          }),
      // The 30-day counts must agree (the data has no duplicate events, so no dedup can differ).
      checksumsAgree: checksums.length === 1,
      // This build and the baseline must give the same distinct-count estimates.
      distinctChecksumsAgree: distinctChecksums.length <= 1,
    };
    const outDir = values.out ?? join(REPO_ROOT, 'bench/results');
    await mkdir(outDir, { recursive: true });
    const file = join(outDir, `windows-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const cell = (m: ReturnType<typeof summary>) =>
      `${s(m.medianMillis)} (CPU ${s(m.medianCpuMillis)}), ${mb(m.peakRssMaxBytes)}`;
    const line = (name: string, m: ReturnType<typeof summary>) =>
      `| ${name} | ${params.events} | ${params.rows} | ${cell(hand)} | ${cell(m)} | ` +
      `${(m.medianMillis / hand.medianMillis).toFixed(2)} | ${(m.medianCpuMillis / hand.medianCpuMillis).toFixed(2)} | ` +
      `${(m.peakRssMaxBytes / hand.peakRssMaxBytes).toFixed(2)} |`;
    console.log(
      `| build | events | rows | hand-written | Tessera | time ratio | CPU ratio | peak RSS ratio |\n|---|---|---|---|---|---|---|---|\n` +
        `${line('this', tessera)}${before === undefined ? '' : `\n${line('baseline', before)}`}`,
    );
    console.log(`\nReport: ${file}`);
    if (!report.checksumsAgree) throw new Error(`the 30-day counts differ between contenders: ${checksums.join(', ')}`);
    if (!report.distinctChecksumsAgree) {
      throw new Error(`the distinct-count estimates differ between builds: ${distinctChecksums.join(', ')}`);
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

// Run as a script (the smoke test and `npm run bench`); importing it runs nothing.
if (process.argv[1] === SELF) await main();
