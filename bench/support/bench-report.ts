// The report step of `npm run bench`: the newest result of every scenario as one markdown table per
// scenario and SVG charts (hand-drawn: no chart dependency for a few bars and lines).
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aggregationsMarkdown, type AggregationsModeResult } from './aggregations-report.js';
import {
  feastRemoteHttpMarkdownTable,
  feastRemoteMarkdownTable,
  type FeastRemoteCaseResult,
} from './feast-remote-report.js';
import {
  agreeText,
  feastHistoricalCharts,
  feastHistoricalMarkdown,
  feastRatioText,
  feastSecondsText,
  tesseraText,
  type FeastHistoricalEntry,
} from './feast-historical-report.js';
import type { Segment } from './mixed-result.js';
import { pythonClientMarkdownTable, type PythonClientCaseResult } from './python-client-report.js';
import { cliStartupMarkdownTable, type CliStartupCase } from './cli-startup-report.js';
import { securityMarkdownTable, type SecurityCaseResult } from './security-report.js';
import { tracingMarkdownTable, type TracingCaseResult } from './tracing-report.js';
import { targetRows, targetsMarkdown } from './targets-report.js';

interface Series {
  readonly name: string;
  readonly color: string;
  readonly values: readonly number[];
}

const COLORS = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/** Size and margins shared by every chart, px. */
const FRAME = { width: 760, height: 360, left: 70, top: 40, plotWidth: 760 - 70 - 20, plotHeight: 360 - 40 - 60 };

/** A grouped bar chart: one group per label, one bar per series. */
export function barChart(title: string, unit: string, labels: readonly string[], series: readonly Series[]): string {
  const { width, height, left, top, plotWidth, plotHeight } = FRAME;
  const max = niceMax(Math.max(...series.flatMap((s) => s.values), 0));
  const groupWidth = plotWidth / Math.max(labels.length, 1);
  const barWidth = (groupWidth * 0.8) / Math.max(series.length, 1);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = top + plotHeight - (plotHeight * i) / 4;
    parts.push(`<line x1="${left}" y1="${y}" x2="${left + plotWidth}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${formatNumber((max * i) / 4)}</text>`);
  }
  parts.push(
    `<text x="14" y="${top + plotHeight / 2}" transform="rotate(-90 14 ${top + plotHeight / 2})" text-anchor="middle">${escapeXml(unit)}</text>`,
  );
  labels.forEach((label, g) => {
    const x0 = left + g * groupWidth + groupWidth * 0.1;
    series.forEach((s, k) => {
      const value = s.values[g] ?? 0;
      const h = (plotHeight * value) / max;
      parts.push(
        `<rect x="${x0 + k * barWidth}" y="${top + plotHeight - h}" width="${barWidth - 2}" height="${h}" fill="${s.color}"><title>${escapeXml(`${s.name} ${label}: ${formatNumber(value)} ${unit}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${x0 + groupWidth * 0.4}" y="${top + plotHeight + 16}" text-anchor="middle">${escapeXml(label)}</text>`,
    );
  });
  series.forEach((s, k) => {
    const x = left + k * 170;
    parts.push(`<rect x="${x}" y="${height - 24}" width="12" height="12" fill="${s.color}"/>`);
    parts.push(`<text x="${x + 18}" y="${height - 14}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** A line chart of y against x, one line per series (x values per series). */
export function lineChart(
  title: string,
  xUnit: string,
  yUnit: string,
  lines: readonly { name: string; points: readonly (readonly [number, number])[] }[],
): string {
  const { width, height, left, top, plotWidth, plotHeight } = FRAME;
  const maxX = niceMax(Math.max(...lines.flatMap((l) => l.points.map((p) => p[0])), 0));
  const maxY = niceMax(Math.max(...lines.flatMap((l) => l.points.map((p) => p[1])), 0));
  const sx = (x: number) => left + (plotWidth * x) / maxX;
  const sy = (y: number) => top + plotHeight - (plotHeight * y) / maxY;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    parts.push(
      `<line x1="${left}" y1="${sy((maxY * i) / 4)}" x2="${left + plotWidth}" y2="${sy((maxY * i) / 4)}" stroke="#ddd"/>`,
    );
    parts.push(
      `<text x="${left - 6}" y="${sy((maxY * i) / 4) + 4}" text-anchor="end">${formatNumber((maxY * i) / 4)}</text>`,
    );
    parts.push(
      `<text x="${sx((maxX * i) / 4)}" y="${top + plotHeight + 16}" text-anchor="middle">${formatNumber((maxX * i) / 4)}</text>`,
    );
  }
  parts.push(
    `<text x="${left + plotWidth / 2}" y="${top + plotHeight + 34}" text-anchor="middle">${escapeXml(xUnit)}</text>`,
  );
  parts.push(
    `<text x="14" y="${top + plotHeight / 2}" transform="rotate(-90 14 ${top + plotHeight / 2})" text-anchor="middle">${escapeXml(yUnit)}</text>`,
  );
  lines.forEach((line, k) => {
    const color = COLORS[k % COLORS.length] as string;
    const sorted = [...line.points].sort((a, b) => a[0] - b[0]);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${sorted.map(([x, y]) => `${sx(x)},${sy(y)}`).join(' ')}"/>`,
    );
    for (const [x, y] of sorted) parts.push(`<circle cx="${sx(x)}" cy="${sy(y)}" r="3" fill="${color}"/>`);
    parts.push(`<rect x="${left + k * 130}" y="${height - 24}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${left + k * 130 + 18}" y="${height - 14}">${escapeXml(line.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function formatNumber(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 0 : 1)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(0)}k`;
  if (value >= 100) return value.toFixed(0);
  if (value >= 1) return value.toFixed(1);
  return value.toFixed(2);
}

/**
 * The newest `<prefix><ISO stamp>.json` in `dir`. The stamp must follow the prefix directly, so
 * `feast-` does not pick up `feast-remote-…` files.
 */
async function newest(
  dir: string,
  prefix: string,
  accept: (data: unknown) => boolean = () => true,
): Promise<{ file: string; data: unknown } | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => n.startsWith(prefix) && /^\d{4}-/.test(n.slice(prefix.length)) && n.endsWith('.json'))
    .sort();
  for (const name of names.reverse()) {
    const data = JSON.parse(await readFile(join(dir, name), 'utf8')) as unknown;
    if (accept(data)) return { file: name, data };
  }
  return undefined;
}

interface LoadFigures {
  rps: number;
  p50Millis: number;
  p99Millis: number;
  errors: number;
}
/** ` (min–max)` of the runs' throughput, or nothing for a single run. */
function spreadOf(runs: readonly LoadFigures[] | undefined): string {
  if (runs === undefined || runs.length < 2) return '';
  const rates = runs.map((r) => r.rps);
  return ` (${formatNumber(Math.min(...rates))}–${formatNumber(Math.max(...rates))})`;
}

interface LoadCase {
  id: string;
  closed: LoadFigures;
  closedRuns?: LoadFigures[];
  open: (LoadFigures & { targetRps: number })[];
  raw: LoadFigures;
  rawRuns?: LoadFigures[];
  server: { cpuCores: number; peakRssBytes: number };
}
interface LatencyCase {
  id: string;
  tessera: { p50Millis: number; p99Millis: number };
  rawHmget: { p50Millis: number; p99Millis: number } | null;
}
interface WriteResult {
  tessera: { featureValuesPerSecond: number };
  raw: { featureValuesPerSecond: number };
  ratio: number;
  lag: { p50Millis: number; maxMillis: number };
}
interface HistoricalCase {
  id: string;
  entityRows: number;
  contender: string;
  joinAlgorithm: string;
  summary: { medianMillis: number; peakRssMaxBytes: number; rowsPerSecond: number } | null;
}

/** A historical case's series name: the contender, and for Tessera its plan. */
function historicalName(c: HistoricalCase): string {
  return c.contender === 'tessera' ? `tessera ${c.joinAlgorithm}` : c.contender;
}

interface MixedResult {
  config: { rate: number; segments: number; segmentSeconds: number; readEntities: number; features: number };
  readsAlone?: { p99Millis: number };
  segments: Segment[];
  summary: { readP99SpreadAcrossSegments: number; serverRssGrowthBytes: number; errors: number; dropped: number };
}

interface FeastResult {
  machine: { feast?: string };
  config: {
    entities: number;
    rowsPerView: number;
    shape: { views: number; features: number };
    serveConcurrency?: number;
    /** Results written before the servers' load moved to ghz and vegeta. */
    serveVus?: number;
  };
  online: {
    shape: string;
    tessera: { p50Millis: number; p99Millis: number };
    feast?: { p50Ms: number; p99Ms: number };
    feastP99OverTessera: number | null;
  }[];
  serve: {
    shape: string;
    tessera: { rps: number; p99Millis: number; serverCpuCores: number };
    feast: { rps: number; p99Millis: number; serverCpuCores: number };
    tesseraRpsOverFeast: number;
  }[];
  historical: FeastHistoricalEntry[];
}

/** Writes `report-<time>.md` and the charts into `dir` from the newest results there. */
export async function writeReport(dir: string): Promise<{ markdown: string; markdownFile: string; charts: string[] }> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const sections: string[] = ['# Benchmark report', ''];
  sections.push(
    '## Targets of the open issues, from the newest result of each scenario',
    '',
    targetsMarkdown(await targetRows((prefix, accept) => newest(dir, prefix, accept))),
    '',
  );
  const charts: string[] = [];
  const chart = async (name: string, svg: string): Promise<string> => {
    const file = `chart-${name}-${stamp}.svg`;
    await writeFile(join(dir, file), svg);
    charts.push(file);
    return file;
  };

  for (const mode of ['cluster', 'embedded'] as const) {
    const load = await newest(dir, `online-load-${mode}-`);
    if (!load) continue;
    const cases = (load.data as { cases: LoadCase[] }).cases;
    const rawName = mode === 'cluster' ? 'raw pipelined HMGET' : 'raw LMDB gets';
    sections.push(`## Online read load (ghz), ${mode} — \`${load.file}\``, '');
    sections.push(
      '| shape | Tessera req/s (runs min–max) | raw req/s (runs min–max) | raw / Tessera | p50 / p99 ms (closed loop, worst run) | server cores | server peak RSS MB |',
    );
    sections.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const c of cases) {
      sections.push(
        `| ${c.id} | ${formatNumber(c.closed.rps)}${spreadOf(c.closedRuns)} | ${formatNumber(c.raw.rps)}${spreadOf(c.rawRuns)} | ` +
          `${(c.raw.rps / Math.max(c.closed.rps, 1e-9)).toFixed(1)}× | ` +
          `${c.closed.p50Millis.toFixed(2)} / ${c.closed.p99Millis.toFixed(2)} | ${c.server.cpuCores.toFixed(2)} | ${(c.server.peakRssBytes / 1e6).toFixed(0)} |`,
      );
    }
    const throughput = await chart(
      `online-load-${mode}-throughput`,
      barChart(
        `Closed-loop throughput (${mode}): Tessera (ghz) vs ${rawName}`,
        'requests/s',
        cases.map((c) => c.id),
        [
          { name: 'Tessera', color: COLORS[0] as string, values: cases.map((c) => c.closed.rps) },
          { name: rawName, color: COLORS[1] as string, values: cases.map((c) => c.raw.rps) },
        ],
      ),
    );
    const knee = await chart(
      `online-load-${mode}-knee`,
      lineChart(
        `p99 latency against offered load (fixed rate, ${mode})`,
        'offered requests/s',
        'p99 ms',
        cases.map((c) => ({ name: c.id, points: c.open.map((o) => [o.targetRps, o.p99Millis] as const) })),
      ),
    );
    sections.push('', `![throughput](${throughput}) ![knee](${knee})`, '');
  }

  const latency = await newest(dir, 'online-latency-');
  if (latency) {
    const cases = (latency.data as { cases: LatencyCase[] }).cases;
    sections.push(`## Online latency, one call in flight — \`${latency.file}\``, '');
    sections.push('| case | Tessera p50 / p99 ms | raw HMGET p50 / p99 ms |', '| --- | --- | --- |');
    for (const c of cases) {
      sections.push(
        `| ${c.id} | ${c.tessera.p50Millis.toFixed(2)} / ${c.tessera.p99Millis.toFixed(2)} | ` +
          `${c.rawHmget ? `${c.rawHmget.p50Millis.toFixed(2)} / ${c.rawHmget.p99Millis.toFixed(2)}` : '—'} |`,
      );
    }
    const file = await chart(
      'online-latency',
      barChart(
        'GetOnlineFeatures p99, one call in flight',
        'ms',
        cases.map((c) => c.id),
        [
          { name: 'Tessera p99', color: COLORS[0] as string, values: cases.map((c) => c.tessera.p99Millis) },
          { name: 'raw HMGET p99', color: COLORS[1] as string, values: cases.map((c) => c.rawHmget?.p99Millis ?? 0) },
        ],
      ),
    );
    sections.push('', `![latency](${file})`, '');
  }

  const security = await newest(dir, 'security-cost-');
  if (security) {
    const cases = (security.data as { cases: SecurityCaseResult[] }).cases;
    sections.push(`## Cost of auth + TLS on online reads, interleaved with plaintext — \`${security.file}\``, '');
    sections.push(securityMarkdownTable(cases), '');
  }

  const pythonClient = await newest(dir, 'python-client-');
  if (pythonClient) {
    const cases = (pythonClient.data as { cases: PythonClientCaseResult[] }).cases;
    sections.push(
      `## The Python client against the raw grpcio stub, one call in flight, interleaved — \`${pythonClient.file}\``,
      '',
    );
    sections.push(pythonClientMarkdownTable(cases), '');
  }

  const cliStartup = await newest(dir, 'cli-startup-');
  if (cliStartup) {
    const { cases, machine } = cliStartup.data as {
      cases: CliStartupCase[];
      machine: { loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
    };
    const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
    sections.push(`## \`tessera get\` end to end, process start included — \`${cliStartup.file}\``, '');
    sections.push(
      `Load average ${load(machine.loadAverageAtStart)} at start, ${load(machine.loadAverageAtEnd)} at end.`,
      '',
      cliStartupMarkdownTable(cases),
      '',
    );
  }

  const tracing = await newest(dir, 'tracing-cost-');
  if (tracing) {
    const cases = (tracing.data as { cases: TracingCaseResult[] }).cases;
    sections.push(
      `## Cost of tracing (1 % and 100 % sampled, OTLP to Jaeger), interleaved with tracing off — \`${tracing.file}\``,
      '',
    );
    sections.push(tracingMarkdownTable(cases), '');
  }

  const aggregations = await newest(dir, 'aggregations-');
  if (aggregations) {
    const r = aggregations.data as {
      results: AggregationsModeResult[];
      machine: { loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
    };
    sections.push(`## Window aggregations: writes and online reads against plain views — \`${aggregations.file}\``, '');
    sections.push(aggregationsMarkdown(r.results, r.machine), '');
  }

  const write = await newest(dir, 'write-throughput-');
  if (write) {
    const r = (write.data as { result: WriteResult }).result;
    sections.push(`## Writes through write-behind — \`${write.file}\``, '');
    sections.push('| path | feature values/s | ratio | offline lag p50 / max ms |', '| --- | --- | --- | --- |');
    sections.push(
      `| Tessera | ${formatNumber(r.tessera.featureValuesPerSecond)} | ${r.ratio.toFixed(2)}× raw | ${r.lag.p50Millis} / ${r.lag.maxMillis} |`,
    );
    sections.push(`| raw HSET + chDB insert | ${formatNumber(r.raw.featureValuesPerSecond)} | — | — |`);
    const file = await chart(
      'write',
      barChart(
        'Sustained writes',
        'feature values/s',
        ['writes'],
        [
          {
            name: 'Tessera (online + write-behind)',
            color: COLORS[0] as string,
            values: [r.tessera.featureValuesPerSecond],
          },
          { name: 'raw HSET + chDB insert', color: COLORS[1] as string, values: [r.raw.featureValuesPerSecond] },
        ],
      ),
    );
    sections.push('', `![writes](${file})`, '');
  }

  const historical = await newest(dir, 'historical-');
  if (historical) {
    const cases = (historical.data as { cases: HistoricalCase[] }).cases.filter((c) => c.summary !== null);
    sections.push(`## Training sets (GetHistorical) — \`${historical.file}\``, '');
    sections.push(
      '| entity rows | contender | join | median s | rows/s | peak RSS GB |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const c of cases) {
      const s = c.summary!;
      sections.push(
        `| ${c.entityRows} | ${c.contender} | ${c.joinAlgorithm} | ${(s.medianMillis / 1000).toFixed(2)} | ${formatNumber(s.rowsPerSecond)} | ${(s.peakRssMaxBytes / 1e9).toFixed(2)} |`,
      );
    }
    const sizes = [...new Set(cases.map((c) => c.entityRows))];
    const contenders = [...new Set(cases.map(historicalName))];
    const file = await chart(
      'historical',
      barChart(
        'Training set time',
        'seconds',
        sizes.map((n) => `${formatNumber(n)} rows`),
        contenders.map((name, k) => ({
          name,
          color: COLORS[k % COLORS.length] as string,
          values: sizes.map((n) => {
            const c = cases.find((x) => x.entityRows === n && historicalName(x) === name);
            return (c?.summary?.medianMillis ?? 0) / 1000;
          }),
        })),
      ),
    );
    sections.push('', `![historical](${file})`, '');
  }

  for (const mode of ['cluster', 'embedded'] as const) {
    const mixed = await newest(dir, `mixed-${mode}-`);
    if (!mixed) continue;
    const m = mixed.data as MixedResult;
    sections.push(`## Mixed 90 % reads / 10 % writes, ${mode} — \`${mixed.file}\``, '');
    sections.push(
      `${m.config.rate} requests/s for ${(m.config.segments * m.config.segmentSeconds) / 60} min in ${m.config.segments} segments; ` +
        `reads of ${m.config.readEntities} entities × ${m.config.features} features alone at the same read rate: p99 ` +
        `${m.readsAlone?.p99Millis.toFixed(2) ?? '—'} ms. Read p99 spread across segments ${m.summary.readP99SpreadAcrossSegments.toFixed(2)}×, ` +
        `server RSS growth ${(m.summary.serverRssGrowthBytes / 1e6).toFixed(0)} MB, errors ${m.summary.errors}, dropped ${m.summary.dropped}.`,
      '',
    );
    sections.push(
      '| segment | reads/s | read p50 / p99 ms | writes/s | write p50 / p99 ms | server RSS MB | server cores |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const seg of m.segments) {
      sections.push(
        `| ${seg.index + 1} | ${formatNumber(seg.reads.rps)} | ${seg.reads.p50Millis.toFixed(2)} / ${seg.reads.p99Millis.toFixed(2)} | ` +
          `${formatNumber(seg.writes.rps)} | ${seg.writes.p50Millis.toFixed(2)} / ${seg.writes.p99Millis.toFixed(2)} | ` +
          `${(seg.server.rssBytes / 1e6).toFixed(0)} | ${seg.server.cpuCores.toFixed(2)} |`,
      );
    }
    const minutes = (i: number): number => ((i + 1) * m.config.segmentSeconds) / 60;
    const file = await chart(
      `mixed-${mode}`,
      lineChart(`Mixed load (${mode}): p99 per segment`, 'minutes', 'p99 ms', [
        { name: 'read p99', points: m.segments.map((seg) => [minutes(seg.index), seg.reads.p99Millis] as const) },
        { name: 'write p99', points: m.segments.map((seg) => [minutes(seg.index), seg.writes.p99Millis] as const) },
      ]),
    );
    sections.push('', `![mixed ${mode}](${file})`, '');
  }

  const feast = await newest(dir, 'feast-');
  if (feast) {
    const f = feast.data as FeastResult;
    sections.push(`## Tessera beside Feast ${f.machine.feast ?? ''} — \`${feast.file}\``, '');
    sections.push(
      `Same data (${f.config.entities} entities, ${f.config.rowsPerView} rows per view × ${f.config.shape.views} views × ` +
        `${f.config.shape.features} features), same Redis Cluster, same machine, one run.`,
      '',
      '| online, one call at a time | Tessera p50 / p99 ms (TS client → gRPC server) | Feast p50 / p99 ms (Python SDK, in process) | Feast p99 / Tessera p99 |',
      '| --- | --- | --- | --- |',
    );
    for (const o of f.online) {
      sections.push(
        `| ${o.shape} | ${o.tessera.p50Millis.toFixed(2)} / ${o.tessera.p99Millis.toFixed(2)} | ` +
          `${o.feast ? `${o.feast.p50Ms.toFixed(2)} / ${o.feast.p99Ms.toFixed(2)}` : '—'} | ${o.feastP99OverTessera?.toFixed(2) ?? '—'}× |`,
      );
    }
    sections.push(
      '',
      `| servers under load (closed loop, ${f.config.serveConcurrency ?? f.config.serveVus ?? '—'} in flight) | Tessera (ghz) req/s, p99 ms, cores | Feast (\`feast serve\`, HTTP, vegeta) req/s, p99 ms, cores | Tessera / Feast req/s |`,
      '| --- | --- | --- | --- |',
    );
    for (const v of f.serve) {
      sections.push(
        `| ${v.shape} | ${formatNumber(v.tessera.rps)}, ${v.tessera.p99Millis.toFixed(2)}, ${v.tessera.serverCpuCores.toFixed(2)} | ` +
          `${formatNumber(v.feast.rps)}, ${v.feast.p99Millis.toFixed(2)}, ${v.feast.serverCpuCores.toFixed(2)} | ${v.tesseraRpsOverFeast.toFixed(2)}× |`,
      );
    }
    sections.push(
      '',
      '| training set, entity rows | Tessera s (peak RSS GB) | Feast s (peak RSS GB) | Feast / Tessera time | same result |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const h of f.historical) {
      sections.push(
        `| ${formatNumber(h.entityRows)} | ${tesseraText(h)} | ` +
          `${feastSecondsText(h)} (${(h.feast.peakRssBytes / 1e9).toFixed(2)}) | ${feastRatioText(h)} | ${agreeText(h)} |`,
      );
    }
    const file = await chart(
      'feast',
      barChart(
        'Feast time / Tessera time (higher: Tessera faster)',
        '×',
        [
          ...f.online.map((o) => `SDK p99 ${o.shape}`),
          ...f.historical.map((h) => `train ${formatNumber(h.entityRows)}`),
        ],
        [
          {
            name: 'Feast / Tessera',
            color: COLORS[0] as string,
            values: [
              ...f.online.map((o) => o.feastP99OverTessera ?? 0),
              ...f.historical.map((h) => h.feastTimeOverTessera ?? h.feastTimeOverTesseraAtLeast ?? 0),
            ],
          },
        ],
      ),
    );
    sections.push('', `![feast](${file})`, '');
  }

  const feastHistorical = await newest(dir, 'feast-historical-');
  if (feastHistorical) {
    const f = feastHistorical.data as {
      machine: { feast?: string; loadAverageAtStart?: number[] };
      config: { feastTimeoutSeconds: number; entities: number; shape: { views: number; features: number } };
      historical: FeastHistoricalEntry[];
    };
    sections.push(
      `## Training sets vs rows per view, Tessera beside Feast ${f.machine.feast ?? ''} — \`${feastHistorical.file}\``,
      '',
      `\`bench/feast.ts --only historical\`: ${f.config.shape.views} views × ${f.config.shape.features} doubles, ` +
        `${formatNumber(f.config.entities)} entities; Feast's \`get_historical_features(...).to_arrow()\` (DuckDB offline ` +
        `store) killed past ${f.config.feastTimeoutSeconds} s and recorded as did not finish (DNF).`,
      '',
      feastHistoricalMarkdown(f.historical),
    );
    for (const [k, data] of feastHistoricalCharts(f.historical).entries()) {
      const file = await chart(
        `feast-historical-${k === 0 ? 'time' : 'rss'}`,
        barChart(
          data.title,
          data.unit,
          data.labels,
          data.series.map((series, i) => ({ ...series, color: COLORS[i % COLORS.length] as string })),
        ),
      );
      sections.push('', `![training sets ${data.unit}](${file})`);
    }
    sections.push('');
  }

  const feastRemote = await newest(dir, 'feast-remote-');
  if (feastRemote) {
    const r = feastRemote.data as { machine: { feast?: string }; cases: FeastRemoteCaseResult[] };
    sections.push(
      `## Feast ${r.machine.feast ?? ''} SDK through its remote online store: Tessera vs \`feast serve\`, and in process — \`${feastRemote.file}\``,
      '',
    );
    sections.push(feastRemoteMarkdownTable(r.cases), '', feastRemoteHttpMarkdownTable(r.cases));
    const file = await chart(
      'feast-remote',
      barChart(
        'Feast SDK get_online_features p50, one call in flight',
        'ms',
        r.cases.map((c) => c.id),
        [
          { name: 'remote → Tessera', color: COLORS[0] as string, values: r.cases.map((c) => c.tessera.p50Millis) },
          {
            name: 'remote → feast serve',
            color: COLORS[1] as string,
            values: r.cases.map((c) => c.feastServe.p50Millis),
          },
          { name: 'in process (Redis)', color: COLORS[2] as string, values: r.cases.map((c) => c.inProcess.p50Millis) },
        ],
      ),
    );
    sections.push('', `![feast remote](${file})`, '');
  }

  const markdown = sections.join('\n');
  const markdownFile = `report-${stamp}.md`;
  await writeFile(join(dir, markdownFile), markdown + '\n');
  return { markdown, markdownFile, charts };
}
