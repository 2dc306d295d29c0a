// Training sets, Tessera beside Feast (bench/feast.ts): one size of entity rows over one prepared data
// set, each side in a process of its own, Feast under a time limit. Also the data of the training-set-only
// mode (`--only historical`): per rows-per-view size, Parquet files, a Feast repository (SQLite online
// store, never materialized: training sets read the offline store only) and Tessera's chDB tables of the
// same rows, prepared once and cached under `.cache/bench-feast/` (outside git).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FEAST_DIR, feastBench, feastChild, type FeastPrepared } from './feast-setup.js';
import type { FeastChildResult } from './feast-child.js';
import type { FeastShape } from './feast-views.js';

/** What `feast_bench.py historical` reports. */
export interface FeastHistorical {
  readonly entityRows: number;
  readonly seconds: number;
  readonly rows: number;
  readonly nullsInFirstFeature: number;
  readonly peakRssBytes: number;
  readonly entitiesFile: string;
  readonly firstFeatureColumn: string;
  readonly firstFeatureSum: number;
  readonly checks: Record<string, [number, number, number]>;
}

/** Feast's side when it did not finish: killed at the limit, its peak RSS until then. */
export interface FeastDidNotFinish {
  readonly entityRows: number;
  readonly seconds: null;
  readonly limitSeconds: number;
  readonly peakRssBytes: number;
}

/** One `historical[]` entry of the result JSON. */
export interface HistoricalEntry {
  readonly rowsPerView: number;
  readonly entityRows: number;
  readonly feastFinished: boolean;
  readonly feast: FeastHistorical | FeastDidNotFinish;
  /** false when Tessera's GetHistorical failed (its `error` says why: e.g. the engine's memory limit). */
  readonly tesseraFinished: boolean;
  readonly tessera: Record<string, unknown> & { seconds: number | null; peakRssBytes: number | null; error?: string };
  /** Feast time / Tessera time; null when Feast did not finish (then `feastTimeOverTesseraAtLeast`). */
  readonly feastTimeOverTessera: number | null;
  /** The limit / Tessera time when Feast did not finish: the ratio is at least this. */
  readonly feastTimeOverTesseraAtLeast?: number;
  /** Same training set (rows; per view NULLs, sum and entity-weighted sum of f0); null when Feast did not finish. */
  readonly agree: boolean | null;
  readonly feastLimitSeconds: number | null;
}

const POLL_MILLIS = 500;

function vmHwm(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined; // ended
  }
}

/**
 * `feast_bench.py historical` with a time limit over the whole process (Python start, the entity rows
 * written, the call): past it the process is killed (SIGKILL) and the run recorded as not finished,
 * with the peak RSS read from /proc until then.
 */
async function feastHistoricalWithin(
  python: string,
  args: readonly string[],
  entityRows: number,
  limitSeconds: number,
): Promise<FeastHistorical | FeastDidNotFinish> {
  const child = spawn(python, [join(FEAST_DIR, 'feast_bench.py'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-6_000)));
  let peak = 0;
  let killed = false;
  const poll = setInterval(() => (peak = Math.max(peak, vmHwm(child.pid as number) ?? 0)), POLL_MILLIS);
  const limit = setTimeout(() => {
    peak = Math.max(peak, vmHwm(child.pid as number) ?? 0);
    killed = true;
    child.kill('SIGKILL');
  }, limitSeconds * 1000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearInterval(poll);
  clearTimeout(limit);
  if (killed) return { entityRows, seconds: null, limitSeconds, peakRssBytes: peak };
  if (code !== 0) throw new Error(`feast_bench.py historical failed (${code}):\n${stderr}`);
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as FeastHistorical;
}

/** Per view: sum, entity-weighted sum and NULLs of f0, equal up to rounding (summed in another order). */
function sameTrainingSet(
  feast: FeastHistorical,
  tessera: { rows: number; checks: Record<string, [number, number, number]> },
  views: number,
): boolean {
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
  const viewsAgree = Object.entries(tessera.checks).every(([name, [sum, weighted, nulls]]) => {
    const theirs = feast.checks[name];
    return theirs !== undefined && close(theirs[0], sum) && close(theirs[1], weighted) && theirs[2] === nulls;
  });
  return (
    feast.rows === tessera.rows &&
    Object.keys(feast.checks).length === views &&
    Object.keys(tessera.checks).length === views &&
    viewsAgree
  );
}

/**
 * One training set on both sides over the same entity rows: Feast first (it writes the entity rows'
 * Parquet file both read), then Tessera's GetHistorical in a chDB child. `limitSeconds` bounds Feast;
 * Tessera gets twice the limit plus a minute before it is called failed.
 */
export async function compareTrainingSet(options: {
  readonly python: string;
  readonly repo: string;
  readonly chdbDir: string;
  readonly shape: FeastShape;
  readonly entities: number;
  readonly rowsPerView: number;
  readonly entityRows: number;
  readonly limitSeconds: number | null;
  readonly log: (message: string) => void;
}): Promise<HistoricalEntry> {
  const { python, repo, shape, entityRows, limitSeconds, log } = options;
  const args = [
    'historical',
    '--repo',
    repo,
    '--entity-rows',
    String(entityRows),
    '--entities',
    String(options.entities),
  ];
  const feast =
    limitSeconds === null
      ? await feastBench<FeastHistorical>(python, args, 30 * 60_000)
      : await feastHistoricalWithin(python, args, entityRows, limitSeconds);
  // Written by feast_bench.py before it imports Feast: present unless Feast was killed within its first seconds.
  const entitiesParquet = join(repo, `entities_${entityRows}.parquet`);
  if (!existsSync(entitiesParquet))
    throw new Error(
      `${entitiesParquet} is missing: Feast was stopped before it wrote the entity rows (limit too short?)`,
    );
  const finished = feast.seconds !== null;
  const where = `${options.rowsPerView} rows per view, ${entityRows} entity rows`;
  log(
    `historical ${where}: Feast ` +
      (finished
        ? `${feast.seconds.toFixed(2)} s (${(feast.peakRssBytes / 1e9).toFixed(2)} GB)`
        : `did not finish within ${limitSeconds ?? 0} s (${(feast.peakRssBytes / 1e9).toFixed(2)} GB when killed)`),
  );
  let tessera: FeastChildResult;
  try {
    tessera = await feastChild(
      { kind: 'historical', dataDir: options.chdbDir, entitiesParquet, shape, chunkRows: 65_536 },
      limitSeconds === null ? 20 * 60_000 : (limitSeconds * 2 + 60) * 1000,
    );
  } catch (error) {
    // A failed GetHistorical is a result at this size (recorded, the run goes on), not a broken bench.
    const { stderr = '', killed = false } = error as { stderr?: string; killed?: boolean };
    const message = killed
      ? `killed after ${limitSeconds === null ? 1200 : limitSeconds * 2 + 60} s`
      : (/^TesseraError: (.*)$/m.exec(stderr)?.[1] ?? stderr.trim().split('\n').at(-1) ?? String(error)).slice(0, 400);
    log(`historical ${where}: Tessera FAILED: ${message}`);
    return {
      rowsPerView: options.rowsPerView,
      entityRows,
      feastFinished: finished,
      feast,
      tesseraFinished: false,
      tessera: { seconds: null, peakRssBytes: null, error: message },
      feastTimeOverTessera: null,
      agree: null,
      feastLimitSeconds: limitSeconds,
    };
  }
  const tesseraSeconds = tessera.millis / 1000;
  const agree = finished ? sameTrainingSet(feast, tessera, shape.views) : null;
  log(
    `historical ${where}: Tessera ${tesseraSeconds.toFixed(2)} s (${(tessera.peakRssBytes / 1e9).toFixed(2)} GB), ` +
      (finished
        ? `Feast ${feast.seconds.toFixed(2)} s (${(feast.peakRssBytes / 1e9).toFixed(2)} GB), ` +
          (agree
            ? 'same training set (rows; per view: NULLs, sum and entity-weighted sum of f0)'
            : 'DIFFERENT training sets')
        : `Feast did not finish within ${limitSeconds ?? 0} s (${(feast.peakRssBytes / 1e9).toFixed(2)} GB when killed)`),
  );
  if (agree === false) {
    console.error(
      `bench: Feast ${JSON.stringify((feast as FeastHistorical).checks)}, Tessera ${JSON.stringify(tessera.checks)}`,
    );
  }
  return {
    rowsPerView: options.rowsPerView,
    entityRows,
    feastFinished: finished,
    feast,
    tesseraFinished: true,
    tessera: { ...tessera, seconds: tesseraSeconds },
    feastTimeOverTessera: finished ? feast.seconds / Math.max(tesseraSeconds, 1e-9) : null,
    ...(finished ? {} : { feastTimeOverTesseraAtLeast: (limitSeconds ?? 0) / Math.max(tesseraSeconds, 1e-9) }),
    agree,
    feastLimitSeconds: limitSeconds,
  };
}

/** The data of one rows-per-view size, ready for both sides. */
export interface TrainingSetData {
  readonly repo: string;
  readonly chdbDir: string;
  readonly cached: boolean;
  readonly prepared: FeastPrepared & { loadSeconds: number; loadedRows: number };
}

/**
 * Parquet files, the Feast repository (SQLite online store, not materialized) and Tessera's chDB
 * tables of the same rows, under `<cacheDir>/rows-<R>-n<N>-v<V>-f<F>/`; reused when `ready.json`
 * there says both were finished (a size interrupted half way is prepared again from scratch).
 */
export async function trainingSetData(options: {
  readonly python: string;
  readonly cacheDir: string;
  readonly entities: number;
  readonly rowsPerView: number;
  readonly shape: FeastShape;
  readonly log: (message: string) => void;
}): Promise<TrainingSetData> {
  const { python, entities, rowsPerView, shape, log } = options;
  const dir = join(options.cacheDir, `rows-${rowsPerView}-n${entities}-v${shape.views}-f${shape.features}`);
  const repo = join(dir, 'feast_repo');
  const chdbDir = join(dir, 'chdb');
  const ready = join(dir, 'ready.json');
  if (existsSync(ready)) {
    log(`${rowsPerView} rows per view: cached in ${dir}`);
    return {
      repo,
      chdbDir,
      cached: true,
      prepared: JSON.parse(await readFile(ready, 'utf8')) as TrainingSetData['prepared'],
    };
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  log(`${rowsPerView} rows per view: writing Parquet (numpy, 1M rows a chunk) and applying Feast's repository`);
  const prepared = await feastBench<FeastPrepared>(
    python,
    [
      'prepare',
      '--repo',
      repo,
      '--entities',
      String(entities),
      '--rows-per-view',
      String(rowsPerView),
      '--views',
      String(shape.views),
      '--features',
      String(shape.features),
      '--ttl-days',
      String(shape.ttlDays),
      '--online-store',
      'sqlite',
      '--no-materialize',
    ],
    60 * 60_000,
  );
  const loaded = await feastChild(
    { kind: 'load', dataDir: chdbDir, parquetDir: join(repo, 'data'), shape, latest: false },
    60 * 60_000,
  );
  if (loaded.rows !== prepared.rows)
    throw new Error(`Tessera loaded ${loaded.rows} rows, Feast wrote ${prepared.rows}`);
  log(
    `${rowsPerView} rows per view: Parquet + apply ${prepared.prepareSeconds.toFixed(1)} s, ` +
      `Tessera tables ${(loaded.millis / 1000).toFixed(1)} s`,
  );
  const full = { ...prepared, loadSeconds: loaded.millis / 1000, loadedRows: loaded.rows };
  await writeFile(ready, JSON.stringify(full, null, 2) + '\n');
  return { repo, chdbDir, cached: false, prepared: full };
}
