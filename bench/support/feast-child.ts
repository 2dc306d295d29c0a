// Tessera's chDB side of the Feast comparison (bench/feast.ts), one process per step because chDB
// allows one data directory per process and keeps its peak memory until the process ends:
// - `load`: Tessera's tables for the views (its own DDL), filled from the very Parquet files Feast's
//   offline store reads, and each view's latest row per entity written to `latest_<i>.parquet` for
//   the online store (what `feast materialize` puts into Redis);
// - `historical`: one GetHistorical (runHistorical, Arrow chunks, every chunk decoded) over the
//   entity rows Feast was given (`entities_<E>.parquet`), timed from the rows in memory.
// Prints one line `RESULT {...}`. Run as `node --import tsx bench/support/feast-child.ts '<json>'`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import {
  ChdbExecutor,
  DEFAULT_HISTORICAL_QUERY_LIMITS,
  createDatabaseSql,
  ensureViewTables,
  qualifiedName,
  tableName,
  runHistorical,
} from '@tessera/offline';
import { loadEntityRows, resolvedAll } from './historical-dataset.js';
import { FEAST_DATABASE, FEAST_JOIN_KEY, feastViews, type FeastShape } from './feast-views.js';

export type FeastChildTask =
  | {
      readonly kind: 'load';
      readonly dataDir: string;
      readonly parquetDir: string;
      readonly shape: FeastShape;
      /** Write `latest_<i>.parquet` for the online store (default true; training sets alone need none). */
      readonly latest?: boolean;
    }
  | {
      readonly kind: 'historical';
      readonly dataDir: string;
      readonly entitiesParquet: string;
      readonly shape: FeastShape;
      readonly chunkRows: number;
      /** Diagnostics only (not set by bench/feast.ts): the engine's memory limit per query instead of the default. */
      readonly maxMemoryBytes?: number;
    };

export interface FeastChildResult {
  readonly millis: number;
  readonly rows: number;
  readonly nullsInFirstFeature: number;
  /** Sum of the first feature over the training set: the same data must give the same sum. */
  readonly firstFeatureSum: number;
  /**
   * Per view, of its feature f0 (`fv_<i>__f0`): [sum, sum of f0 × (entity_id % 1000 + 1), NULLs],
   * as bench/feast/feast_bench.py computes them for Feast's training set.
   */
  readonly checks: Record<string, [number, number, number]>;
  readonly peakRssBytes: number;
}

/** A string literal for ClickHouse SQL (file paths of this bench). */
function literal(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function peakRss(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

async function load(
  executor: ChdbExecutor,
  task: Extract<FeastChildTask, { kind: 'load' }>,
): Promise<FeastChildResult> {
  const started = performance.now();
  const views = feastViews(task.shape);
  await executor.command(createDatabaseSql({ database: FEAST_DATABASE }));
  await ensureViewTables(executor, views, { database: FEAST_DATABASE });
  let rows = 0;
  for (const [i, view] of views.entries()) {
    const table = qualifiedName(FEAST_DATABASE, tableName(view));
    const source = `file(${literal(join(task.parquetDir, `view_${i}.parquet`))}, Parquet)`;
    const features = view.features.map((f) => f.name).join(', ');
    await executor.command(
      `INSERT INTO ${table} (${FEAST_JOIN_KEY}, event_ts, created_ts, ${features}) ` +
        `SELECT ${FEAST_JOIN_KEY}, event_timestamp, created, ${features} FROM ${source}`,
    );
    await executor.command(`OPTIMIZE TABLE ${table} FINAL`);
    if (task.latest !== false)
      await executor.command(
        `INSERT INTO FUNCTION file(${literal(join(task.parquetDir, `latest_${i}.parquet`))}, Parquet) ` +
          `SELECT ${FEAST_JOIN_KEY}, toDateTime64(event_ts, 3, 'UTC') AS event_ts, ${features} FROM ${table} FINAL ` +
          `ORDER BY ${FEAST_JOIN_KEY}, event_ts DESC LIMIT 1 BY ${FEAST_JOIN_KEY} ` +
          `SETTINGS engine_file_truncate_on_insert = 1`,
      );
    const [count] = await executor.queryJson<{ n: string }>(`SELECT toString(count()) AS n FROM ${table}`);
    rows += Number(count?.n ?? 0);
  }
  return {
    millis: performance.now() - started,
    rows,
    nullsInFirstFeature: 0,
    firstFeatureSum: 0,
    checks: {},
    peakRssBytes: peakRss(),
  };
}

async function historical(
  executor: ChdbExecutor,
  task: Extract<FeastChildTask, { kind: 'historical' }>,
): Promise<FeastChildResult> {
  const { keys, ts } = await loadEntityRows(
    executor,
    `SELECT ${FEAST_JOIN_KEY}, toUnixTimestamp64Milli(toDateTime64(event_timestamp, 3, 'UTC')) AS ts ` +
      `FROM file(${literal(task.entitiesParquet)}, Parquet)`,
    FEAST_JOIN_KEY,
  );
  const first = 'fv_0__f0';
  const started = performance.now();
  let rows = 0;
  let nulls = 0;
  let sum = 0;
  const checks: Record<string, [number, number, number]> = {};
  for await (const chunk of runHistorical(
    executor,
    FEAST_DATABASE,
    {
      entities: { kind: 'rows', keys: new Map([[FEAST_JOIN_KEY, keys]]), eventTsMillis: ts, passthrough: [] },
      features: resolvedAll(feastViews(task.shape)),
      chunkRows: task.chunkRows,
      format: 'arrow',
    },
    task.maxMemoryBytes === undefined
      ? {}
      : { limits: { ...DEFAULT_HISTORICAL_QUERY_LIMITS, maxMemoryBytes: task.maxMemoryBytes } },
  )) {
    if (chunk.arrowIpc === undefined) throw new Error('an arrow chunk without arrowIpc');
    rows += chunk.rowCount;
    const decoded = tableFromIPC(chunk.arrowIpc);
    const column = decoded.getChild(first);
    nulls += column?.nullCount ?? 0;
    for (const value of column ?? []) if (typeof value === 'number') sum += value;
    // Checks outside the timed part would need the chunks kept: this loop costs ~1 % of the run.
    const ids = decoded.getChild(FEAST_JOIN_KEY)?.toArray() as BigInt64Array | undefined;
    for (let i = 0; i < task.shape.views; i += 1) {
      const name = `fv_${i}__f0`;
      const values = decoded.getChild(name);
      const check = (checks[name] ??= [0, 0, 0]);
      check[2] += values?.nullCount ?? 0;
      for (let row = 0; row < chunk.rowCount; row += 1) {
        const value = values?.get(row) as number | null | undefined;
        if (typeof value !== 'number') continue;
        check[0] += value;
        check[1] += value * (Number((ids?.[row] ?? 0n) % 1000n) + 1);
      }
    }
  }
  return {
    millis: performance.now() - started,
    rows,
    nullsInFirstFeature: nulls,
    firstFeatureSum: sum,
    checks,
    peakRssBytes: peakRss(),
  };
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? '') as FeastChildTask;
  const executor = ChdbExecutor.open({ path: task.dataDir });
  try {
    const result = task.kind === 'load' ? await load(executor, task) : await historical(executor, task);
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    await executor.close();
  }
}

await main();
