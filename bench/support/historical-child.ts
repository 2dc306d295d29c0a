// One process per step of the historical bench (chDB allows one data directory per process and keeps
// its peak memory until the process ends): `prepare` builds the data directory, `plain` and `tessera`
// each run one measurement on it and print one JSON line `RESULT {...}` with time, rows, peak RSS.
// Run by bench/historical.ts as `node --import tsx bench/support/historical-child.ts '<json>'`.
import { readFileSync } from 'node:fs';
import type { HistoricalRequest } from '@tessera/core';
import { RecordBatchReader, tableFromIPC } from 'apache-arrow';
import {
  ChdbExecutor,
  createDatabaseSql,
  ensureViewTables,
  qualifiedName,
  tableName,
  runHistorical,
  type HistoricalPlan,
} from '@tessera/offline';
import {
  DATABASE,
  JOIN_KEY,
  benchViews,
  entityTable,
  entityTableSql,
  fillViewSql,
  loadEntityRows,
  floorQuerySql,
  plainQuerySql,
  prunedSelectSql,
  resolvedAll,
  type DataParams,
} from './historical-dataset.js';

export type ChildTask =
  | { readonly kind: 'prepare'; readonly dataDir: string; readonly params: DataParams }
  | {
      readonly kind: 'floor' | 'plain';
      readonly dataDir: string;
      readonly entityRows: number;
      readonly featuresPerView: number;
    }
  | {
      readonly kind: 'tessera';
      readonly dataDir: string;
      readonly entityRows: number;
      readonly plan: 'auto' | HistoricalPlan;
      readonly chunkRows: number;
      /** Inline rows (default) or an entity SELECT over the entity table (bench/historical.ts --entity-input). */
      readonly entityInput?: 'rows' | 'sql';
    };

export interface ChildResult {
  readonly kind: ChildTask['kind'];
  /** Wall time of the measured part, ms. */
  readonly millis: number;
  /** Rows of the result (or inserted, for prepare). */
  readonly rows: number;
  /** Rows whose first feature (`hist_a__f0`) was NULL: the two contenders must agree. */
  readonly nullsInFirstFeature: number;
  /** Chunks (Tessera) or record batches (plain) consumed. */
  readonly pieces: number;
  /** Bytes of Arrow consumed. */
  readonly arrowBytes: number;
  /** VmHWM at the end: the process's peak resident set, bytes. */
  readonly peakRssBytes: number;
  /** VmRSS just before the measured part started, bytes (engine open, entity rows loaded). */
  readonly rssBeforeBytes: number;
  /** CPU time (user + system, all threads: chDB's too) of the measured part, ms. */
  readonly cpuMillis?: number;
  readonly steps?: Readonly<Record<string, number>>;
  /** Floor only: granules (index marks) of the three tables the request's key and time filter selects, of all. */
  readonly granules?: { readonly selected: number; readonly total: number };
}

function cpuMillisSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

function statusBytes(field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

const FIRST_FEATURE = 'hist_a__f0';

async function prepare(executor: ChdbExecutor, params: DataParams): Promise<ChildResult> {
  const steps: Record<string, number> = {};
  const started = performance.now();
  const views = benchViews();
  await executor.command(`DROP DATABASE IF EXISTS ${DATABASE}`);
  await executor.command(createDatabaseSql({ database: DATABASE }));
  await ensureViewTables(executor, views, { database: DATABASE });
  for (const [i, view] of views.entries()) {
    const table = qualifiedName(DATABASE, tableName(view));
    let t = performance.now();
    await executor.command(fillViewSql(table, i, params));
    steps[`insert ${view.name}`] = performance.now() - t;
    // Merged as a long-lived table would be, so every run reads the same parts.
    t = performance.now();
    await executor.command(`OPTIMIZE TABLE ${table} FINAL`);
    steps[`optimize ${view.name}`] = performance.now() - t;
  }
  for (const rows of params.entityRowCounts) {
    for (const sql of entityTableSql(rows, params)) await executor.command(sql);
  }
  return {
    kind: 'prepare',
    millis: performance.now() - started,
    rows: params.rowsPerView * views.length,
    nullsInFirstFeature: 0,
    pieces: 0,
    arrowBytes: 0,
    peakRssBytes: statusBytes('VmHWM'),
    rssBeforeBytes: 0,
    steps,
  };
}

async function plain(executor: ChdbExecutor, entityRows: number, featuresPerView: number): Promise<ChildResult> {
  const tables = benchViews().map((view) => qualifiedName(DATABASE, tableName(view)));
  const sql = plainQuerySql(tables, entityRows, featuresPerView);
  const rssBeforeBytes = statusBytes('VmRSS');
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let rows = 0;
  let nulls = 0;
  let pieces = 0;
  let arrowBytes = 0;
  const source = executor.queryStream(sql, undefined, { format: 'ArrowStream' });
  const counted: AsyncIterable<Uint8Array> = {
    async *[Symbol.asyncIterator]() {
      for await (const bytes of source) {
        arrowBytes += bytes.byteLength;
        yield bytes;
      }
    },
  };
  // chDB streams a sequence of complete IPC streams: read them all.
  for await (const reader of RecordBatchReader.readAll(counted)) {
    for await (const batch of reader) {
      pieces += 1;
      rows += batch.numRows;
      nulls += batch.getChild(FIRST_FEATURE)?.nullCount ?? 0;
    }
  }
  const millis = performance.now() - started;
  return {
    kind: 'plain',
    millis,
    rows,
    nullsInFirstFeature: nulls,
    pieces,
    arrowBytes,
    peakRssBytes: statusBytes('VmHWM'),
    rssBeforeBytes,
    cpuMillis: cpuMillisSince(cpuBefore),
  };
}

/**
 * The read floor: the columns the request needs (key, event_ts, every feature) of the three whole
 * tables, read once and thrown away inside chDB — no join, no sort, nothing out of the engine.
 * Alongside, how many granules the request's own key and time filter leaves to read: when it is
 * all of them, no plan that reads the tables can take less than this.
 */
async function floor(executor: ChdbExecutor, entityRows: number, featuresPerView: number): Promise<ChildResult> {
  const tables = benchViews().map((view) => qualifiedName(DATABASE, tableName(view)));
  const marks = async (select: string): Promise<number> =>
    (await executor.queryJson<{ marks: string }>(`EXPLAIN ESTIMATE ${select}`)).reduce(
      (sum, row) => sum + Number(row.marks),
      0,
    );
  let selected = 0;
  let total = 0;
  for (const table of tables) {
    selected += await marks(prunedSelectSql(table, entityRows, featuresPerView));
    total += await marks(`SELECT * FROM ${table}`);
  }
  const rssBeforeBytes = statusBytes('VmRSS');
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await executor.command(floorQuerySql(tables, featuresPerView));
  const millis = performance.now() - started;
  return {
    kind: 'floor',
    millis,
    rows: entityRows, // the request's size: the floor returns nothing
    nullsInFirstFeature: 0,
    pieces: 0,
    arrowBytes: 0,
    peakRssBytes: statusBytes('VmHWM'),
    rssBeforeBytes,
    cpuMillis: cpuMillisSince(cpuBefore),
    granules: { selected, total },
  };
}

/** The entity rows as a caller holds them: join keys as bigint, timestamps as ms (loaded before timing). */
async function entityRows(executor: ChdbExecutor, rows: number): Promise<{ keys: bigint[]; ts: number[] }> {
  const loaded = await loadEntityRows(
    executor,
    `SELECT ${JOIN_KEY}, toUnixTimestamp64Milli(event_ts) AS ts FROM ${entityTable(rows)} ORDER BY n`,
    JOIN_KEY,
  );
  if (loaded.keys.length !== rows || loaded.ts.length !== rows)
    throw new Error(`entity table has ${loaded.keys.length} rows, expected ${rows}`);
  return loaded;
}

async function tessera(executor: ChdbExecutor, task: Extract<ChildTask, { kind: 'tessera' }>): Promise<ChildResult> {
  const features = resolvedAll(benchViews());
  const entities: HistoricalRequest['entities'] =
    task.entityInput === 'sql'
      ? { kind: 'sql', sql: `SELECT ${JOIN_KEY}, event_ts FROM ${entityTable(task.entityRows)} ORDER BY n` }
      : await (async () => {
          const { keys, ts } = await entityRows(executor, task.entityRows);
          return { kind: 'rows', keys: new Map([[JOIN_KEY, keys]]), eventTsMillis: ts, passthrough: [] } as const;
        })();
  const rssBeforeBytes = statusBytes('VmRSS');
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let rows = 0;
  let nulls = 0;
  let pieces = 0;
  let arrowBytes = 0;
  const chunks = runHistorical(
    executor,
    DATABASE,
    {
      entities,
      features,
      chunkRows: task.chunkRows,
      format: 'arrow',
    },
    { plan: task.plan },
  );
  for await (const chunk of chunks) {
    if (chunk.arrowIpc === undefined) throw new Error('an arrow chunk without arrowIpc');
    if (chunk.firstRow !== rows) throw new Error(`chunk starts at row ${chunk.firstRow}, expected ${rows}`);
    pieces += 1;
    rows += chunk.rowCount;
    arrowBytes += chunk.arrowIpc.byteLength;
    nulls += tableFromIPC(chunk.arrowIpc).getChild(FIRST_FEATURE)?.nullCount ?? 0;
  }
  const millis = performance.now() - started;
  return {
    kind: 'tessera',
    millis,
    rows,
    nullsInFirstFeature: nulls,
    pieces,
    arrowBytes,
    peakRssBytes: statusBytes('VmHWM'),
    rssBeforeBytes,
    cpuMillis: cpuMillisSince(cpuBefore),
  };
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? '') as ChildTask;
  const executor = ChdbExecutor.open({ path: task.dataDir });
  try {
    let result: ChildResult;
    switch (task.kind) {
      case 'prepare':
        result = await prepare(executor, task.params);
        break;
      case 'plain':
        result = await plain(executor, task.entityRows, task.featuresPerView);
        break;
      case 'floor':
        result = await floor(executor, task.entityRows, task.featuresPerView);
        break;
      case 'tessera':
        result = await tessera(executor, task);
        break;
    }
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    await executor.close();
  }
}

await main();
