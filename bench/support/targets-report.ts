// The first table of the bench report: every target of the open performance issues beside the value the
// newest result measured, met or not. Each figure is read from the newest JSON of its scenario; a
// scenario that has not run (or predates the figure) says "not measured" rather than guessing.

/** The newest result of a scenario, by file-name prefix (`online-load-cluster-`), that `accept`s (default: any). */
export type NewestResult = (
  prefix: string,
  accept?: (data: unknown) => boolean,
) => Promise<{ file: string; data: unknown } | undefined>;

/** One target and what was measured for it. */
export interface TargetRow {
  readonly issue: number;
  readonly target: string;
  readonly measured: string;
  /** true met, false missed, null not measured. */
  readonly met: boolean | null;
  readonly source: string;
}

type Json = Record<string, unknown>;

/** `data.a.b.c` when every step is an object and the end a number; undefined otherwise. */
function num(data: unknown, ...path: string[]): number | undefined {
  let at: unknown = data;
  for (const step of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Json)[step];
  }
  return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
}

function list(data: unknown, key: string): Json[] {
  const value = data !== null && typeof data === 'object' ? (data as Json)[key] : undefined;
  return Array.isArray(value) ? (value.filter((v) => v !== null && typeof v === 'object') as Json[]) : [];
}

const fixed = (x: number, digits = 2): string => x.toFixed(digits);
const whole = (x: number): string => Math.round(x).toLocaleString('en-US');

function row(
  issue: number,
  target: string,
  source: string | undefined,
  value: number | undefined,
  met: (v: number) => boolean,
  show: (v: number) => string,
): TargetRow {
  if (source === undefined || value === undefined) {
    return { issue, target, measured: 'not measured', met: null, source: source ?? '—' };
  }
  return { issue, target, measured: show(value), met: met(value), source };
}

async function aggregationRows(newest: NewestResult): Promise<TargetRow[]> {
  const result = await newest('aggregations-');
  const modes = list(result?.data, 'results');
  return (['cluster', 'embedded'] as const).flatMap((mode) => {
    const m = modes.find((x) => x['mode'] === mode);
    return [
      row(
        17,
        `window aggregations, ${mode}: writes with 3 aggregations / plain writes ≥ 0.5`,
        m && result?.file,
        num(m, 'writes', 'ratio'),
        (v) => v >= 0.5,
        (v) => fixed(v),
      ),
      row(
        17,
        `window aggregations, ${mode}: 100 × 6 windowed / plain read p50 ≤ 2×`,
        m && result?.file,
        num(m, 'reads', 'ratio', 'p50'),
        (v) => v <= 2,
        (v) => `${fixed(v)}×`,
      ),
    ];
  });
}

async function onlineRows(newest: NewestResult): Promise<TargetRow[]> {
  const load = await newest('online-load-cluster-');
  const small = list(load?.data, 'cases').find((c) => c['id'] === '1x10');
  const rps = num(small, 'closed', 'rps');
  const cores = num(small, 'server', 'cpuCores');
  const latency = await newest('online-latency-');
  const cases = list(latency?.data, 'cases');
  const p99 = (id: string): number | undefined =>
    num(
      cases.find((c) => c['id'] === id),
      'tessera',
      'p99Millis',
    );
  const sdk = list(latency?.data, 'sdk').find((c) => c['id'] === '1x10');
  return [
    row(
      18,
      'online closed loop 1 × 10: raw engine / Tessera ≤ 4×',
      small && load?.file,
      num(small, 'ratio', 'rps'),
      (v) => v <= 4,
      (v) => `${fixed(v, 1)}×`,
    ),
    row(
      18,
      'cluster mode ≥ 10,000 lookups/s per server core (1 × 10)',
      small && load?.file,
      rps !== undefined && cores !== undefined && cores > 0 ? rps / cores : undefined,
      (v) => v >= 10_000,
      whole,
    ),
    row(
      18,
      'one in flight, Redis Cluster 1 × 50 p99 ≤ 2 ms',
      latency?.file,
      p99('redis-cluster 1x50'),
      (v) => v <= 2,
      (v) => `${fixed(v)} ms`,
    ),
    row(
      18,
      'one in flight, Redis Cluster 100 × 50 p99 ≤ 5 ms',
      latency?.file,
      p99('redis-cluster 100x50'),
      (v) => v <= 5,
      (v) => `${fixed(v)} ms`,
    ),
    row(
      18,
      'TypeScript SDK 1 × 10 p50 ≤ 2× a bare grpc-js unary call of the same size',
      sdk && latency?.file,
      num(sdk, 'ratio', 'p50'),
      (v) => v <= 2,
      (v) => `${fixed(v)}×`,
    ),
  ];
}

async function historicalRows(newest: NewestResult): Promise<TargetRow[]> {
  const median = (c: Json | undefined): number | undefined => num(c, 'summary', 'medianMillis');
  const rss = (c: Json | undefined): number | undefined => num(c, 'summary', 'peakRssMaxBytes');
  const tesseraAt = (data: unknown, rows: number): Json[] =>
    list(data, 'cases').filter(
      (c) => c['contender'] === 'tessera' && c['entityRows'] === rows && median(c) !== undefined,
    );
  // Per size, the newest result that measured Tessera at it (a 10M run is usually a run of its own):
  // Tessera's fastest plan against the read floor measured in the same run.
  const at = async (rows: number): Promise<{ file?: string; ratio?: number | undefined; rss?: number | undefined }> => {
    const result = await newest('historical-', (data) => tesseraAt(data, rows).length > 0);
    if (result === undefined) return {};
    const floor = median(
      list(result.data, 'cases').find((c) => c['contender'] === 'floor' && c['entityRows'] === rows),
    );
    const tessera = tesseraAt(result.data, rows).sort((a, b) => (median(a) as number) - (median(b) as number))[0];
    const time = median(tessera);
    return {
      file: result.file,
      ratio: floor !== undefined && time !== undefined ? time / floor : undefined,
      rss: rss(tessera),
    };
  };
  const k100 = await at(100_000);
  const m1 = await at(1_000_000);
  const m10 = await at(10_000_000);
  const gb = (v: number): string => `${fixed(v / 1e9)} GB`;
  return [
    row(
      18,
      'historical 100k entity rows ≤ 1.5× the read floor',
      k100.file,
      k100.ratio,
      (v) => v <= 1.5,
      (v) => `${fixed(v)}×`,
    ),
    row(
      18,
      'historical 1M entity rows ≤ 3× the read floor',
      m1.file,
      m1.ratio,
      (v) => v <= 3,
      (v) => `${fixed(v)}×`,
    ),
    row(18, 'historical 1M entity rows peak RSS ≤ 1 GB', m1.file, m1.rss, (v) => v <= 1e9, gb),
    row(18, 'historical 10M entity rows completes, peak RSS ≤ 1.5 GB', m10.file, m10.rss, (v) => v <= 1.5e9, gb),
  ];
}

/**
 * Training sets at ≥ 10M rows per view: the entries of that size (each entry's `rowsPerView`) of the
 * newest `feast-historical-` result (bench/feast.ts --only historical), else of the newest `feast-`
 * result. A size where Feast did not finish within its limit counts as met only if Tessera finished
 * within the limit and the limit / Tessera time (a lower bound of the ratio) is ≥ 5.
 */
async function trainingSetRow(newest: NewestResult): Promise<TargetRow> {
  const target = 'training sets ≥ 5× faster than Feast at ≥ 10M rows per view';
  for (const prefix of ['feast-historical-', 'feast-2']) {
    const result = await newest(prefix);
    const large = list(result?.data, 'historical').filter((h) => (num(h, 'rowsPerView') ?? 0) >= 10_000_000);
    if (result === undefined || large.length === 0) continue;
    // Per size: [ratio or its lower bound, DNF?, met?]
    const failed = large.find((h) => h['tesseraFinished'] === false || num(h, 'tessera', 'seconds') === undefined);
    if (failed !== undefined) {
      const error = (failed['tessera'] as Json | undefined)?.['error'];
      const why = (typeof error === 'string' ? error : 'no result').slice(0, 100).replace(/\|/g, '/');
      const measured = `Tessera failed at ${whole(num(failed, 'rowsPerView') ?? 0)} rows per view: ${why}`;
      return { issue: 18, target, measured, met: false, source: result.file };
    }
    const sizes = large.map((h) => {
      const tessera = num(h, 'tessera', 'seconds') ?? Infinity;
      const limit = num(h, 'feastLimitSeconds');
      if (h['feastFinished'] === false) {
        const bound = limit === undefined ? 0 : limit / Math.max(tessera, 1e-9);
        return { h, ratio: bound, dnf: true, met: limit !== undefined && tessera <= limit && bound >= 5 };
      }
      const ratio = num(h, 'feastTimeOverTessera') ?? 0;
      return { h, ratio, dnf: false, met: ratio >= 5 && h['agree'] === true };
    });
    const slowest = sizes.reduce((a, b) => (b.ratio < a.ratio ? b : a));
    const rows = num(slowest.h, 'rowsPerView') ?? 0;
    const measured = slowest.dnf
      ? `≥ ${fixed(slowest.ratio, 1)}× at ${whole(rows)} rows per view (Feast did not finish within ` +
        `${whole(num(slowest.h, 'feastLimitSeconds') ?? 0)} s; Tessera ${fixed(num(slowest.h, 'tessera', 'seconds') ?? 0, 1)} s)`
      : `${fixed(slowest.ratio, 1)}× at ${whole(rows)} rows per view (slowest size)`;
    return { issue: 18, target, measured, met: sizes.every((x) => x.met), source: result.file };
  }
  return { issue: 18, target, measured: 'not measured', met: null, source: '—' };
}

async function otherRows(newest: NewestResult): Promise<TargetRow[]> {
  const writes = await newest('write-throughput-');
  const cli = await newest('cli-startup-');
  const get = list(cli?.data, 'cases').find((c) => String(c['id']).startsWith('tessera get'));
  return [
    await trainingSetRow(newest),
    row(
      18,
      'writes ≥ 0.9× the raw pipelined write',
      writes?.file,
      num(writes?.data, 'result', 'ratio'),
      (v) => v >= 0.9,
      (v) => fixed(v),
    ),
    row(
      18,
      '`tessera get` of one entity ≤ 0.3 s end to end (p50 wall)',
      get && cli?.file,
      num(get, 'wall', 'p50Millis'),
      (v) => v <= 300,
      (v) => `${whole(v)} ms`,
    ),
  ];
}

/** Every target, in issue order, from the newest results. */
export async function targetRows(newest: NewestResult): Promise<TargetRow[]> {
  return [
    ...(await aggregationRows(newest)),
    ...(await onlineRows(newest)),
    ...(await historicalRows(newest)),
    ...(await otherRows(newest)),
  ];
}

/** The table: target, measured, met / missed / not measured, and the result file it comes from. */
export function targetsMarkdown(rows: readonly TargetRow[]): string {
  const verdict = (met: boolean | null): string => (met === null ? 'not measured' : met ? 'met' : '**missed**');
  return [
    '| issue | target | measured | verdict | from |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.issue} | ${r.target} | ${r.measured} | ${verdict(r.met)} | \`${r.source}\` |`),
  ].join('\n');
}
