// The bench report's first table: each target beside the newest measured value, with its verdict.
import { describe, expect, it } from 'vitest';
import { targetRows, targetsMarkdown, type NewestResult } from '../bench/support/targets-report.js';

function results(files: Record<string, unknown>): NewestResult {
  return (prefix) => {
    const name = Object.keys(files)
      .filter((n) => n.startsWith(prefix))
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
    expect(rows.find((r) => r.target.startsWith('historical 100k'))).toMatchObject({ measured: '1.40×', met: true });
    expect(verdict('historical 1M entity rows ≤ 3×')).toBeNull();
    expect(verdict('writes ≥ 0.9×')).toBeNull();
    const table = targetsMarkdown(rows);
    expect(table).toContain(
      '| 17 | window aggregations, cluster: 100 × 6 windowed / plain read p50 ≤ 2× | 2.50× | **missed** |',
    );
    expect(table).toContain('| not measured | not measured | `—` |');
  });
});
