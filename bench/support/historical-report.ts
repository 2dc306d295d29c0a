// Summaries and the markdown table of the historical bench.

/** Issue 18's targets for Tessera's full path, each against the read floor measured in the same run. */
export const TARGETS = [
  { upToEntityRows: 100_000, timeOverFloor: 1.5, peakRssBytes: null },
  { upToEntityRows: 1_000_000, timeOverFloor: 3, peakRssBytes: 1e9 },
  // 10M entity rows: completes, in bounded memory.
  { upToEntityRows: Infinity, timeOverFloor: null, peakRssBytes: 1.5e9 },
] as const;

/**
 * `floor`: the needed columns of the whole tables read once inside chDB, no join — the least any
 * plan pays when the request's keys touch every granule; `plain`: one ASOF LEFT JOIN of the whole
 * tables; `tessera`: runHistorical, the full path.
 */
export type Contender = 'floor' | 'plain' | 'tessera';

/** One measurement: one child process. */
export interface RunResult {
  readonly repetition: number;
  readonly millis: number;
  readonly rows: number;
  readonly nullsInFirstFeature: number;
  readonly pieces: number;
  readonly arrowBytes: number;
  readonly peakRssBytes: number;
  readonly rssBeforeBytes: number;
  /** Wall time of the whole child, spawn to exit, ms (engine start, entity load and the run). */
  readonly processMillis: number;
  /** CPU time of the measured part (user + system, every thread of the child), ms. */
  readonly cpuMillis?: number;
  readonly loadAverage: number;
  /** Floor only: granules of the three tables the request's key and time filter selects, of all. */
  readonly granules?: { readonly selected: number; readonly total: number };
}

export interface CaseResult {
  readonly id: string;
  readonly entityRows: number;
  readonly contender: Contender;
  /** ClickHouse's default for the plain query; Tessera's option for runHistorical. */
  readonly joinAlgorithm:
    'none (read only)' | 'hash (ClickHouse default)' | 'hash' | 'full_sorting_merge' | 'key_ranges';
  /** Whether `auto` (the default) picks this algorithm at this size. */
  readonly pickedByAuto: boolean;
  readonly runs: readonly RunResult[];
  readonly failures: readonly string[];
  readonly summary: Summary | null;
  /** Tessera median time / plain median time, and peak RSS (max) ratio, at the same size. */
  readonly vsPlain: { readonly time: number; readonly peakRss: number } | null;
  /** Tessera median time / the read floor's median time at the same size. */
  readonly timeOverFloor: number | null;
  readonly targets: Targets | null;
}

export interface Summary {
  readonly runs: number;
  readonly medianMillis: number;
  readonly minMillis: number;
  readonly maxMillis: number;
  /** Entity rows per second at the median time. */
  readonly rowsPerSecond: number;
  readonly peakRssMaxBytes: number;
  readonly peakRssMinBytes: number;
}

export interface Targets {
  readonly time: string;
  readonly timeMet: boolean;
  readonly peakRss: string;
  readonly peakRssMet: boolean;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarize(runs: readonly RunResult[], entityRows: number): Summary | null {
  if (runs.length === 0) return null;
  const times = runs.map((r) => r.millis);
  const rss = runs.map((r) => r.peakRssBytes);
  const medianMillis = median(times);
  return {
    runs: runs.length,
    medianMillis,
    minMillis: Math.min(...times),
    maxMillis: Math.max(...times),
    rowsPerSecond: entityRows / (medianMillis / 1000),
    peakRssMaxBytes: Math.max(...rss),
    peakRssMinBytes: Math.min(...rss),
  };
}

export function targetsOf(entityRows: number, tessera: Summary, floor: Summary | null): Targets {
  // The last target has no upper bound: find always finds one.
  const target = TARGETS.find((t) => entityRows <= t.upToEntityRows) ?? TARGETS[2];
  const ratio = floor === null ? null : tessera.medianMillis / floor.medianMillis;
  return {
    time: target.timeOverFloor === null ? 'completes' : `≤ ${target.timeOverFloor}× the read floor`,
    timeMet: target.timeOverFloor === null || (ratio !== null && ratio <= target.timeOverFloor),
    peakRss: target.peakRssBytes === null ? 'none' : `≤ ${target.peakRssBytes / 1e9} GB`,
    peakRssMet: target.peakRssBytes === null || tessera.peakRssMaxBytes <= target.peakRssBytes,
  };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
}

function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(2);
}

function rate(rowsPerSecond: number): string {
  if (rowsPerSecond >= 1e6) return `${(rowsPerSecond / 1e6).toFixed(2)}M`;
  return `${Math.round(rowsPerSecond / 1000)}k`;
}

function count(rows: number): string {
  return rows >= 1e6 && rows % 1e6 === 0
    ? `${rows / 1e6}M`
    : rows >= 1000 && rows % 1000 === 0
      ? `${rows / 1000}k`
      : `${rows}`;
}

const CONTENDER_LABELS: Readonly<Record<Contender, string>> = {
  floor: 'read floor',
  plain: 'plain query',
  tessera: 'Tessera',
};

/** "; the request's filter keeps 3,678 of 3,678 granules" from a floor run (empty for other contenders). */
function granulesNote(runs: readonly RunResult[]): string {
  const granules = runs.find((run) => run.granules !== undefined)?.granules;
  return granules === undefined
    ? ''
    : `; the request's filter keeps ${granules.selected.toLocaleString('en-US')} of ${granules.total.toLocaleString('en-US')} granules`;
}

/** The results as a markdown table, one row per case. */
export function markdownTable(cases: readonly CaseResult[]): string {
  const header = [
    'entity rows',
    'contender',
    'join',
    'runs',
    'time median (min–max) s',
    'rows/s',
    'peak RSS max (min) GB',
    'time / plain',
    'RSS / plain',
    'time / floor',
    'targets (time; peak RSS)',
  ];
  const rows = cases.map((c) => {
    const s = c.summary;
    const join = c.pickedByAuto ? `${c.joinAlgorithm} (= auto)` : c.joinAlgorithm;
    const targets =
      c.targets === null
        ? ''
        : `${c.targets.time}: ${c.targets.timeMet ? 'met' : 'missed'}; RSS ${c.targets.peakRss}: ${c.targets.peakRssMet ? 'met' : 'missed'}`;
    return [
      count(c.entityRows),
      CONTENDER_LABELS[c.contender],
      c.contender === 'floor' ? `${join}${granulesNote(c.runs)}` : join,
      s === null
        ? `0 (${c.failures.length} failed)`
        : String(s.runs) + (c.failures.length ? ` (+${c.failures.length} failed)` : ''),
      s === null ? '—' : `${seconds(s.medianMillis)} (${seconds(s.minMillis)}–${seconds(s.maxMillis)})`,
      s === null ? '—' : rate(s.rowsPerSecond),
      s === null ? '—' : `${gb(s.peakRssMaxBytes)} (${gb(s.peakRssMinBytes)})`,
      c.vsPlain === null ? '—' : `${c.vsPlain.time.toFixed(2)}×`,
      c.vsPlain === null ? '—' : `${c.vsPlain.peakRss.toFixed(2)}×`,
      c.timeOverFloor === null ? '—' : `${c.timeOverFloor.toFixed(2)}×`,
      targets,
    ];
  });
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
