// The report's section of `bench/feast.ts --only historical`: training-set time and peak RSS against
// rows per view, Tessera beside Feast, a Feast run killed at its limit marked "did not finish" (DNF).
// Charts as data (labels, series) for bench-report.ts to draw.

/** One `historical[]` entry as the report reads it (old results lack rowsPerView, feastFinished). */
export interface FeastHistoricalEntry {
  readonly rowsPerView?: number;
  readonly entityRows: number;
  readonly feastFinished?: boolean;
  readonly feast: { readonly seconds: number | null; readonly peakRssBytes: number; readonly limitSeconds?: number };
  readonly tesseraFinished?: boolean;
  readonly tessera: { readonly seconds: number | null; readonly peakRssBytes: number | null; readonly error?: string };
  readonly feastTimeOverTessera: number | null;
  readonly feastTimeOverTesseraAtLeast?: number;
  readonly agree: boolean | null;
  readonly feastLimitSeconds?: number | null;
}

/** A bar chart's content: one group per label, a bar per series. */
export interface ChartData {
  readonly title: string;
  readonly unit: string;
  readonly labels: readonly string[];
  readonly series: readonly { readonly name: string; readonly values: readonly number[] }[];
}

const finished = (h: FeastHistoricalEntry): boolean => h.feastFinished !== false && h.feast.seconds !== null;

function millions(rows: number): string {
  return rows >= 1e6 ? `${(rows / 1e6).toFixed(rows % 1e6 === 0 ? 0 : 1)}M` : `${Math.round(rows / 1e3)}k`;
}

/** `17.07` or `DNF (limit 600 s)`. */
export function feastSecondsText(h: FeastHistoricalEntry): string {
  return finished(h)
    ? (h.feast.seconds as number).toFixed(2)
    : `did not finish (limit ${h.feast.limitSeconds ?? h.feastLimitSeconds ?? '?'} s)`;
}

/** `2.1×` or `≥ 75.0×` (limit / Tessera time) when Feast did not finish. */
export function feastRatioText(h: FeastHistoricalEntry): string {
  if (tesseraFailed(h)) return '—';
  if (finished(h)) return `${(h.feastTimeOverTessera ?? 0).toFixed(1)}×`;
  return h.feastTimeOverTesseraAtLeast === undefined ? '—' : `≥ ${h.feastTimeOverTesseraAtLeast.toFixed(1)}×`;
}

const tesseraFailed = (h: FeastHistoricalEntry): boolean => h.tesseraFinished === false || h.tessera.seconds === null;

/** `8.00 (1.14)` (seconds, peak RSS GB) or `FAILED: <error>`. */
export function tesseraText(h: FeastHistoricalEntry): string {
  if (tesseraFailed(h)) return `FAILED: ${(h.tessera.error ?? 'no result').slice(0, 160).replace(/\|/g, '/')}`;
  return `${(h.tessera.seconds as number).toFixed(2)} (${((h.tessera.peakRssBytes ?? 0) / 1e9).toFixed(2)})`;
}

/** `yes`, `NO`, `— (Feast DNF)` or `— (Tessera failed)`. */
export function agreeText(h: FeastHistoricalEntry): string {
  if (tesseraFailed(h)) return '— (Tessera failed)';
  if (h.agree === null || !finished(h)) return '— (Feast DNF)';
  return h.agree ? 'yes' : 'NO';
}

/** The table: one row per (rows per view, entity rows). */
export function feastHistoricalMarkdown(entries: readonly FeastHistoricalEntry[]): string {
  const lines = [
    '| rows per view | entity rows | Tessera s (peak RSS GB) | Feast s (peak RSS GB) | Feast / Tessera time | same training set |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const h of entries) {
    lines.push(
      `| ${millions(h.rowsPerView ?? 0)} | ${millions(h.entityRows)} | ${tesseraText(h)} | ${feastSecondsText(h)} (${(h.feast.peakRssBytes / 1e9).toFixed(2)}` +
        `${finished(h) ? '' : ' when killed'}) | ${feastRatioText(h)} | ${agreeText(h)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Time and peak RSS against rows per view, for one entity-rows size (the first of the run): Tessera
 * beside Feast. A Feast DNF is drawn at its limit (time) and at its RSS when killed, its label saying so.
 */
export function feastHistoricalCharts(entries: readonly FeastHistoricalEntry[]): ChartData[] {
  const entityRows = entries[0]?.entityRows ?? 0;
  const points = entries
    .filter((h) => h.entityRows === entityRows)
    .sort((a, b) => (a.rowsPerView ?? 0) - (b.rowsPerView ?? 0));
  const labels = points.map(
    (h) =>
      `${millions(h.rowsPerView ?? 0)} rows/view${finished(h) ? '' : ' (Feast DNF)'}${tesseraFailed(h) ? ' (Tessera failed)' : ''}`,
  );
  const dnf = points.some((h) => !finished(h));
  const failed = points.some(tesseraFailed);
  const suffix =
    `, ${millions(entityRows)} entity rows` +
    `${dnf ? ' (DNF: Feast bar at its limit)' : ''}${failed ? ' (failed: no Tessera bar)' : ''}`;
  return [
    {
      title: `Training set time vs rows per view${suffix}`,
      unit: 's',
      labels,
      series: [
        { name: 'Tessera', values: points.map((h) => h.tessera.seconds ?? 0) },
        {
          name: 'Feast (DuckDB offline store)',
          values: points.map((h) =>
            finished(h) ? (h.feast.seconds as number) : (h.feast.limitSeconds ?? h.feastLimitSeconds ?? 0),
          ),
        },
      ],
    },
    {
      title: `Training set peak RSS vs rows per view${suffix}`,
      unit: 'GB',
      labels,
      series: [
        { name: 'Tessera', values: points.map((h) => (h.tessera.peakRssBytes ?? 0) / 1e9) },
        { name: 'Feast (DuckDB offline store)', values: points.map((h) => h.feast.peakRssBytes / 1e9) },
      ],
    },
  ];
}
