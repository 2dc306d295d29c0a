// GetHistorical (point-in-time training sets) on chDB: Tessera's full path (runHistorical with inline
// entity rows: upload, pruned ASOF join, streaming, Arrow chunks) against one plain ASOF LEFT JOIN of
// the same entity rows over the same whole tables, each measurement in its own child process.
// How to run it and what each column means: bench/README.md.
import { gitState, loadAtStart, machineInfo } from './support/environment.js';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HASH_JOIN_MAX_ENTITY_ROWS, type HistoricalPlan } from '@tessera/offline';
import type { ChildResult, ChildTask } from './support/historical-child.js';
import { FEATURES_PER_VIEW, VIEW_NAMES, dataParams, type DataParams } from './support/historical-dataset.js';
import { markdownTable, summarize, targetsOf } from './support/historical-report.js';
import type { CaseResult, Contender, RunResult } from './support/historical-report.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD_SCRIPT = join(REPO_ROOT, 'bench/support/historical-child.ts');
const DEFAULT_OUT_DIR = join(REPO_ROOT, 'bench/results');
const DEFAULT_CACHE_DIR = join(REPO_ROOT, '.cache/bench-historical');
/** Rows per chunk when a GetHistorical request does not say (services/feature-server). */
const DEFAULT_CHUNK_ROWS = 65_536;

interface RunConfig {
  readonly mode: 'full' | 'smoke';
  readonly rowsPerView: number;
  readonly entityRowCounts: readonly number[];
  readonly repetitions: number;
  /** Tessera's plans to measure (the plain query always runs). */
  readonly plans: readonly HistoricalPlan[];
  /** No new repetition starts after this much time has passed (the first always runs). */
  readonly budgetMillis: number;
  readonly childTimeoutMillis: number;
  /**
   * How Tessera gets the entity rows: `rows` inline (bigint keys and ms timestamps in Node, uploaded
   * per request), `sql` an entity SELECT over the bench's entity table (what a caller does for sets
   * too large to send, e.g. 10M rows: the server refuses more inline rows than its limit).
   */
  readonly entityInput: 'rows' | 'sql';
  /** Whether the plain query runs (it needs ~6 GB; skip it at sizes where only Tessera's memory is in question). */
  readonly plain: boolean;
}

const FULL: RunConfig = {
  mode: 'full',
  rowsPerView: 10_000_000,
  entityRowCounts: [100_000, 1_000_000],
  repetitions: 3,
  plans: ['hash', 'full_sorting_merge', 'key_ranges'],
  budgetMillis: 20 * 60_000,
  childTimeoutMillis: 300_000,
  entityInput: 'rows',
  plain: true,
};
const SMOKE: RunConfig = {
  mode: 'smoke',
  rowsPerView: 20_000,
  entityRowCounts: [2_000],
  repetitions: 1,
  plans: ['hash', 'full_sorting_merge', 'key_ranges'],
  budgetMillis: 60_000,
  childTimeoutMillis: 60_000,
  entityInput: 'rows',
  plain: true,
};

interface Options {
  readonly config: RunConfig;
  readonly outDir: string;
  /** Where prepared data directories are kept between runs; smoke uses a temporary one unless given. */
  readonly cacheDir: string | undefined;
}

function positiveIntegers(text: string, option: string): number[] {
  const values = text.split(',').map((item) => Number(item.replace(/_/g, '')));
  if (values.some((v) => !Number.isSafeInteger(v) || v < 1))
    throw new Error(`${option}: "${text}" is not a list of positive integers`);
  return values;
}

const PLANS: readonly HistoricalPlan[] = ['hash', 'full_sorting_merge', 'key_ranges'];

function parsePlans(text: string): HistoricalPlan[] {
  const plans = [...new Set(text.split(','))];
  const wrong = plans.filter((plan) => !(PLANS as readonly string[]).includes(plan));
  if (wrong.length > 0) {
    throw new Error(`--plans: "${text}" is not a list of ${PLANS.join(', ')}`);
  }
  return plans as HistoricalPlan[];
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      rows: { type: 'string' },
      'entity-rows': { type: 'string' },
      repetitions: { type: 'string' },
      plans: { type: 'string' },
      'budget-minutes': { type: 'string' },
      'cache-dir': { type: 'string' },
      'entity-input': { type: 'string' },
      'skip-plain': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const base = values.smoke ? SMOKE : FULL;
  const entityInput = values['entity-input'] ?? base.entityInput;
  if (entityInput !== 'rows' && entityInput !== 'sql') {
    throw new Error(`--entity-input: "${entityInput}" is not rows or sql`);
  }
  const config: RunConfig = {
    ...base,
    entityInput,
    plain: !values['skip-plain'],
    ...(values.rows === undefined ? {} : { rowsPerView: positiveIntegers(values.rows, '--rows')[0] as number }),
    ...(values['entity-rows'] === undefined
      ? {}
      : { entityRowCounts: positiveIntegers(values['entity-rows'], '--entity-rows') }),
    ...(values.plans === undefined ? {} : { plans: parsePlans(values.plans) }),
    ...(values.repetitions === undefined
      ? {}
      : { repetitions: positiveIntegers(values.repetitions, '--repetitions')[0] as number }),
    ...(values['budget-minutes'] === undefined
      ? {}
      : { budgetMillis: (positiveIntegers(values['budget-minutes'], '--budget-minutes')[0] as number) * 60_000 }),
  };
  return {
    config,
    outDir: values.out ?? DEFAULT_OUT_DIR,
    cacheDir: values['cache-dir'] ?? (values.smoke ? undefined : DEFAULT_CACHE_DIR),
  };
}

function chdbVersion(): string {
  const require = createRequire(join(REPO_ROOT, 'packages/offline/package.json'));
  return (JSON.parse(readFileSync(require.resolve('chdb/package.json'), 'utf8')) as { version: string }).version;
}

/** Children not finished yet, killed on exit so a failed run leaves no chDB process behind. */
const live = new Set<ReturnType<typeof spawn>>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Runs one child step; resolves with its result and its wall time from spawn to exit. */
function runChild(task: ChildTask, timeoutMillis: number): Promise<{ result: ChildResult; processMillis: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, JSON.stringify(task)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMillis);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || line === undefined) {
        const why = signal === 'SIGKILL' ? `killed after ${timeoutMillis} ms` : `exit ${String(code ?? signal)}`;
        reject(new Error(`${task.kind} child: ${why}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`));
        return;
      }
      resolve({
        result: JSON.parse(line.slice('RESULT '.length)) as ChildResult,
        processMillis: performance.now() - started,
      });
    });
  });
}

/** Whether data prepared with `cached` serves `wanted`: the same tables, and every wanted entity-row table among them. */
function covers(cached: DataParams, wanted: DataParams): boolean {
  const { entityRowCounts: cachedCounts, ...cachedRest } = cached;
  const { entityRowCounts: wantedCounts, ...wantedRest } = wanted;
  return (
    JSON.stringify(cachedRest) === JSON.stringify(wantedRest) &&
    wantedCounts.every((count) => cachedCounts.includes(count))
  );
}

/** The prepared data directory for these parameters: reused when `params.json` covers them, else rebuilt. */
async function preparedData(cacheDir: string, params: DataParams, config: RunConfig): Promise<string> {
  const dir = join(cacheDir, `rows-${params.rowsPerView}`);
  const paramsFile = join(dir, 'params.json');
  const dataDir = join(dir, 'chdb');
  if (existsSync(paramsFile) && covers(JSON.parse(readFileSync(paramsFile, 'utf8')) as DataParams, params)) {
    console.error(`bench: reusing prepared data in ${dir}`);
    return dataDir;
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  console.error(`bench: preparing ${VIEW_NAMES.length} views × ${params.rowsPerView} rows in ${dir}`);
  const { result } = await runChild(
    { kind: 'prepare', dataDir, params },
    Math.max(config.childTimeoutMillis, 1_800_000),
  );
  console.error(`bench: prepared in ${(result.millis / 1000).toFixed(1)} s`);
  await writeFile(paramsFile, JSON.stringify(params) + '\n');
  return dataDir;
}

interface CaseSpec {
  readonly id: string;
  readonly entityRows: number;
  readonly contender: Contender;
  readonly joinAlgorithm: CaseResult['joinAlgorithm'];
  readonly pickedByAuto: boolean;
  readonly task: ChildTask;
}

/** The cases every size measures besides Tessera's plans: the read floor and the plain query. */
const BASELINES = [
  ['floor', 'none (read only)'],
  ['plain', 'hash (ClickHouse default)'],
] as const;

function caseSpecs(dataDir: string, config: RunConfig): CaseSpec[] {
  return config.entityRowCounts.flatMap((entityRows): CaseSpec[] => {
    const auto = entityRows <= HASH_JOIN_MAX_ENTITY_ROWS ? 'hash' : 'key_ranges';
    return [
      ...BASELINES.filter(([kind]) => kind === 'floor' || config.plain).map(([kind, joinAlgorithm]): CaseSpec => ({
        id: `${kind} ${entityRows}`,
        entityRows,
        contender: kind,
        joinAlgorithm,
        pickedByAuto: false,
        task: { kind, dataDir, entityRows, featuresPerView: FEATURES_PER_VIEW },
      })),
      ...config.plans.map((joinAlgorithm): CaseSpec => ({
        id: `tessera ${joinAlgorithm} ${entityRows}`,
        entityRows,
        contender: 'tessera',
        joinAlgorithm,
        pickedByAuto: joinAlgorithm === auto,
        task: {
          kind: 'tessera',
          dataDir,
          entityRows,
          plan: joinAlgorithm,
          chunkRows: DEFAULT_CHUNK_ROWS,
          entityInput: config.entityInput,
        },
      })),
    ];
  });
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { config } = options;
  const startedAt = new Date();
  const loadAverageAtStart = loadAtStart();
  const chdb = chdbVersion();
  const params = dataParams(config.rowsPerView, config.entityRowCounts, chdb);
  const temporaryCache =
    options.cacheDir === undefined ? await mkdtemp(join(tmpdir(), 'tessera-bench-historical-')) : undefined;
  const runs = new Map<string, RunResult[]>();
  const failures = new Map<string, string[]>();
  let specs: CaseSpec[] = [];
  let repetitionsRun = 0;
  try {
    const dataDir = await preparedData(options.cacheDir ?? (temporaryCache as string), params, config);
    specs = caseSpecs(dataDir, config);
    const measureStart = performance.now();
    for (let repetition = 0; repetition < config.repetitions; repetition += 1) {
      const elapsed = performance.now() - measureStart;
      const perRepetition = repetition === 0 ? 0 : elapsed / repetition;
      if (repetition > 0 && elapsed + perRepetition > config.budgetMillis) {
        console.error(`bench: stopping after ${repetition} repetitions (time budget)`);
        break;
      }
      // Rotate the order so no case always runs first or right after the heaviest one.
      const order = specs.map((_, i) => specs[(i + repetition) % specs.length] as CaseSpec);
      for (const spec of order) {
        const load = loadavg()[0] ?? 0;
        try {
          const { result, processMillis } = await runChild(spec.task, config.childTimeoutMillis);
          if (result.rows !== spec.entityRows)
            throw new Error(`returned ${result.rows} rows, expected ${spec.entityRows}`);
          const run: RunResult = {
            repetition,
            millis: result.millis,
            rows: result.rows,
            nullsInFirstFeature: result.nullsInFirstFeature,
            pieces: result.pieces,
            arrowBytes: result.arrowBytes,
            peakRssBytes: result.peakRssBytes,
            rssBeforeBytes: result.rssBeforeBytes,
            processMillis,
            ...(result.cpuMillis === undefined ? {} : { cpuMillis: result.cpuMillis }),
            ...(result.granules === undefined ? {} : { granules: result.granules }),
            loadAverage: load,
          };
          runs.set(spec.id, [...(runs.get(spec.id) ?? []), run]);
          console.error(
            `bench: ${spec.id} #${repetition + 1}: ${(result.millis / 1000).toFixed(2)} s, peak RSS ${(result.peakRssBytes / 1e9).toFixed(2)} GB, load ${load.toFixed(1)}`,
          );
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          failures.set(spec.id, [...(failures.get(spec.id) ?? []), message]);
          console.error(`bench: ${spec.id} #${repetition + 1} failed: ${message}`);
        }
      }
      repetitionsRun = repetition + 1;
    }
  } finally {
    if (temporaryCache !== undefined) await rm(temporaryCache, { recursive: true, force: true });
  }

  const cases: CaseResult[] = specs.map((spec) => {
    const caseRuns = runs.get(spec.id) ?? [];
    const summary = summarize(caseRuns, spec.entityRows);
    const plain = summarize(runs.get(`plain ${spec.entityRows}`) ?? [], spec.entityRows);
    const floor = summarize(runs.get(`floor ${spec.entityRows}`) ?? [], spec.entityRows);
    const tessera = spec.contender === 'tessera' && summary !== null;
    return {
      id: spec.id,
      entityRows: spec.entityRows,
      contender: spec.contender,
      joinAlgorithm: spec.joinAlgorithm,
      pickedByAuto: spec.pickedByAuto,
      runs: caseRuns,
      failures: failures.get(spec.id) ?? [],
      summary,
      vsPlain:
        tessera && plain !== null
          ? {
              time: summary.medianMillis / plain.medianMillis,
              peakRss: summary.peakRssMaxBytes / plain.peakRssMaxBytes,
            }
          : null,
      timeOverFloor: tessera && floor !== null ? summary.medianMillis / floor.medianMillis : null,
      targets: tessera ? targetsOf(spec.entityRows, summary, floor) : null,
    };
  });
  // Both contenders must return the same training set: the same NULL count in one feature column.
  const mismatches = config.entityRowCounts.filter((n) => {
    const nulls = new Set(
      cases
        .filter((c) => c.entityRows === n && c.contender !== 'floor')
        .flatMap((c) => c.runs.map((r) => r.nullsInFirstFeature)),
    );
    return nulls.size > 1;
  });

  const command = ['tsx', 'bench/historical.ts', ...process.argv.slice(2)].join(' ');
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command,
    machine: machineInfo(loadAverageAtStart, { chdb }),
    git: gitState(REPO_ROOT),
    config: {
      ...config,
      repetitionsRun,
      data: params,
      views: `${VIEW_NAMES.length} views (${VIEW_NAMES.join(', ')}) × ${FEATURES_PER_VIEW} Float64 features, tables by Tessera's DDL, OPTIMIZE … FINAL after filling`,
      chunkRows: DEFAULT_CHUNK_ROWS,
      hashJoinMaxEntityRows: HASH_JOIN_MAX_ENTITY_ROWS,
      tessera:
        config.entityInput === 'rows'
          ? "runHistorical, inline entity rows (loaded into Node before timing), format 'arrow', every chunk decoded"
          : "runHistorical, entity rows as an entity SELECT over the entity table, format 'arrow', every chunk decoded",
      plain:
        'one ASOF LEFT JOIN of the entity table over the three whole tables, join_use_nulls = 1, ArrowStream decoded',
    },
    nullCountMismatch: mismatches,
    cases,
  };
  await mkdir(options.outDir, { recursive: true });
  const file = join(options.outDir, `historical-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(
    `\`${command}\` — ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, chDB ${chdb}, ` +
      `${config.rowsPerView} rows per view\n`,
  );
  console.log(markdownTable(cases));
  console.log(`\nFull results: ${file}`);
  if (mismatches.length > 0)
    console.error(`bench: the contenders disagree on NULLs at ${mismatches.join(', ')} entity rows`);
  if (failures.size > 0 || mismatches.length > 0 || repetitionsRun === 0) process.exitCode = 1;
}

await main();
