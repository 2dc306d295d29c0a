// The bench report's first table: each target beside the newest measured value, with its verdict.
import { describe, expect, it } from 'vitest';
import {
  feastHistoricalCharts,
  feastHistoricalMarkdown,
  type FeastHistoricalEntry,
} from '../bench/support/feast-historical-report.js';
import { targetRows, targetsMarkdown, type NewestResult } from '../bench/support/targets-report.js';

function results(files: Record<string, unknown>): NewestResult {
  return (prefix, accept = () => true) => {
    const name = Object.keys(files)
      .filter((n) => n.startsWith(prefix) && accept(files[n]))
      .sort()
      .at(-1);
    return Promise.resolve(name === undefined ? undefined : { file: name, data: files[name] });
  };
}

describe('bench report targets', () => {
  it('states met, missed and not measured from the newest results', async () => {
    const rows = await targetRows(
      results({
        'aggregations-2026-01-01.json': {
          results: [
            { mode: 'cluster', writes: { ratio: 0.55 }, reads: { ratio: { p50: 2.5, p99: 1 } } },
            { mode: 'embedded', writes: { ratio: 0.3 }, reads: { ratio: { p50: 1.5, p99: 1 } } },
          ],
        },
        'online-load-cluster-2026-01-01.json': {
          cases: [{ id: '1x10', closed: { rps: 6_000 }, server: { cpuCores: 0.5 }, ratio: { rps: 3.9 } }],
        },
        'historical-2026-01-01.json': {
          cases: [
            { contender: 'floor', entityRows: 100_000, summary: { medianMillis: 1_000, peakRssMaxBytes: 1 } },
            { contender: 'tessera', entityRows: 100_000, summary: { medianMillis: 1_800, peakRssMaxBytes: 2e8 } },
            { contender: 'tessera', entityRows: 100_000, summary: { medianMillis: 1_400, peakRssMaxBytes: 3e8 } },
          ],
        },
        // A newer run of 10M entity rows alone: the smaller sizes still come from the run that measured them.
        'historical-2026-02-01.json': {
          cases: [
            { contender: 'tessera', entityRows: 10_000_000, summary: { medianMillis: 1e5, peakRssMaxBytes: 6.4e8 } },
          ],
        },
      }),
    );
    const verdict = (start: string): boolean | null | undefined => rows.find((r) => r.target.startsWith(start))?.met;
    expect(verdict('window aggregations, cluster: writes')).toBe(true);
    expect(verdict('window aggregations, cluster: 100 × 6')).toBe(false);
    expect(verdict('window aggregations, embedded: writes')).toBe(false);
    expect(verdict('window aggregations, embedded: 100 × 6')).toBe(true);
    expect(verdict('online closed loop')).toBe(true);
    expect(rows.find((r) => r.target.startsWith('cluster mode'))).toMatchObject({ measured: '12,000', met: true });
    // The fastest plan against the floor of the same run: 1.4 s / 1 s.
    expect(rows.find((r) => r.target.startsWith('historical 100k'))).toMatchObject({
      measured: '1.40×',
      met: true,
      source: 'historical-2026-01-01.json',
    });
    expect(rows.find((r) => r.target.startsWith('historical 10M'))).toMatchObject({
      measured: '0.64 GB',
      met: true,
      source: 'historical-2026-02-01.json',
    });
    expect(verdict('historical 1M entity rows ≤ 3×')).toBeNull();
    expect(verdict('writes ≥ 0.9×')).toBeNull();
    const table = targetsMarkdown(rows);
    expect(table).toContain(
      '| 17 | window aggregations, cluster: 100 × 6 windowed / plain read p50 ≤ 2× | 2.50× | **missed** |',
    );
    expect(table).toContain('| not measured | not measured | `—` |');
  });
});

describe('bench report: training sets against Feast at ≥ 10M rows per view', () => {
  const entry = (rowsPerView: number, feastSeconds: number | null, tesseraSeconds: number, limit = 600): unknown => ({
    rowsPerView,
    entityRows: 100_000,
    feastFinished: feastSeconds !== null,
    feast: { seconds: feastSeconds, peakRssBytes: 2e9, ...(feastSeconds === null ? { limitSeconds: limit } : {}) },
    tessera: { seconds: tesseraSeconds, peakRssBytes: 1e9 },
    feastTimeOverTessera: feastSeconds === null ? null : feastSeconds / tesseraSeconds,
    ...(feastSeconds === null ? { feastTimeOverTesseraAtLeast: limit / tesseraSeconds } : {}),
    agree: feastSeconds === null ? null : true,
    feastLimitSeconds: limit,
  });
  const training = async (files: Record<string, unknown>) =>
    (await targetRows(results(files))).find((r) => r.target.startsWith('training sets'));

  it('reads each entry’s rowsPerView: smaller sizes do not count, the slowest large size decides', async () => {
    expect(await training({ 'feast-2026-01-01.json': { historical: [entry(500_000, 60, 1)] } })).toMatchObject({
      met: null,
      measured: 'not measured',
    });
    const row = await training({
      'feast-historical-2026-01-01.json': {
        historical: [entry(1_000_000, 2, 1), entry(10_000_000, 60, 10), entry(50_000_000, 400, 40)],
      },
    });
    expect(row).toMatchObject({ met: true, source: 'feast-historical-2026-01-01.json' });
    expect(row?.measured).toContain('6.0× at 10,000,000 rows per view');
    expect(
      await training({ 'feast-historical-2026-01-01.json': { historical: [entry(10_000_000, 30, 10)] } }),
    ).toMatchObject({ met: false });
  });

  it('counts a Feast DNF as met only when Tessera finished within the limit, by at least 5×', async () => {
    const dnf = (tesseraSeconds: number) =>
      training({ 'feast-historical-2026-01-01.json': { historical: [entry(10_000_000, null, tesseraSeconds)] } });
    const fast = await dnf(100);
    expect(fast).toMatchObject({ met: true });
    expect(fast?.measured).toContain('≥ 6.0×');
    expect(fast?.measured).toContain('did not finish within 600 s');
    expect(await dnf(300)).toMatchObject({ met: false });
    expect(await dnf(700)).toMatchObject({ met: false });
  });

  it('a size where Tessera failed is missed, with its error', async () => {
    const failed = {
      rowsPerView: 10_000_000,
      entityRows: 100_000,
      feastFinished: true,
      feast: { seconds: 90, peakRssBytes: 3e9 },
      tesseraFinished: false,
      tessera: { seconds: null, peakRssBytes: null, error: 'query failed: ClickHouse MEMORY_LIMIT_EXCEEDED' },
      feastTimeOverTessera: null,
      agree: null,
      feastLimitSeconds: 600,
    };
    const row = await training({
      'feast-historical-2026-01-01.json': { historical: [entry(1_000_000, 17, 8), failed] },
    });
    expect(row).toMatchObject({ met: false });
    expect(row?.measured).toContain(
      'Tessera failed at 10,000,000 rows per view: query failed: ClickHouse MEMORY_LIMIT_EXCEEDED',
    );
    expect(feastHistoricalMarkdown([failed])).toContain(
      '| 10M | 100k | FAILED: query failed: ClickHouse MEMORY_LIMIT_EXCEEDED | 90.00 (3.00) | — | — (Tessera failed) |',
    );
  });

  it('tables and charts a DNF at its limit, labelled', () => {
    const entries = [entry(1_000_000, 17, 8), entry(10_000_000, null, 60)] as FeastHistoricalEntry[];
    const table = feastHistoricalMarkdown(entries);
    expect(table).toContain('| 1M | 100k | 8.00 (1.00) | 17.00 (2.00) | 2.1× | yes |');
    expect(table).toContain(
      '| 10M | 100k | 60.00 (1.00) | did not finish (limit 600 s) (2.00 when killed) | ≥ 10.0× | — (Feast DNF) |',
    );
    const [time, rss] = feastHistoricalCharts(entries);
    expect(time?.labels).toEqual(['1M rows/view', '10M rows/view (Feast DNF)']);
    expect(time?.series.map((s) => s.values)).toEqual([
      [8, 60],
      [17, 600],
    ]);
    expect(rss?.series.map((s) => s.values)).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });
});
