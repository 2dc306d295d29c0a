// The window-aggregation benchmark's result shape and tables (bench/aggregations.ts), shared by the
// script and the bench report.
import type { LatencySummary } from './latency.js';

/** One round of the write comparison (the two views back to back). */
export interface WriteRound {
  readonly aggregatedRowsPerSecond: number;
  readonly plainRowsPerSecond: number;
}

/** Redis MEMORY USAGE of one entity: its hash (rows, tiles, pending list) and its dedup set(s). */
export interface MemoryFigure {
  readonly density: 'busy' | 'sparse';
  readonly hashBytes: number;
  readonly dedupBytes: number;
  /** Events written for a busy entity. */
  readonly events?: number;
}

/** Everything measured on one store. */
export interface AggregationsModeResult {
  readonly mode: 'cluster' | 'embedded';
  readonly writes: {
    readonly rounds: readonly WriteRound[];
    readonly aggregatedRowsPerSecond: number;
    readonly plainRowsPerSecond: number;
    readonly ratio: number;
    readonly target: number;
  };
  readonly reads: {
    readonly loadedEvents: number;
    readonly loadSeconds: number;
    /** purchases_7d of the first busy entity (its events written, when the load is whole). */
    readonly busyEntityCount7d: number;
    readonly windowed: LatencySummary;
    readonly plain: LatencySummary;
    readonly ratio: { readonly p50: number; readonly p99: number };
    readonly target: number;
  };
  readonly memory: readonly MemoryFigure[];
}

const rate = (x: number): string => Math.round(x).toLocaleString('en-US');

/** The results as markdown: writes, reads, memory. */
export function aggregationsMarkdown(
  results: readonly AggregationsModeResult[],
  machine: { readonly loadAverageAtStart: readonly number[]; readonly loadAverageAtEnd: readonly number[] },
): string {
  const load = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  const lines = [
    `Load average ${load(machine.loadAverageAtStart)} at start, ${load(machine.loadAverageAtEnd)} at end.`,
    '',
    '| store | writes with 3 aggregations rows/s | plain rows/s | ratio | target |',
    '|---|---|---|---|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.mode} | ${rate(r.writes.aggregatedRowsPerSecond)} | ${rate(r.writes.plainRowsPerSecond)} | ` +
        `${r.writes.ratio.toFixed(2)} | ≥ ${r.writes.target} |`,
    );
  }
  lines.push(
    '',
    '| store | 100 × 6 windowed p50 / p99 ms | 100 × 6 plain p50 / p99 ms | ratio p50 / p99 | target | events loaded |',
    '|---|---|---|---|---|---|',
  );
  for (const r of results) {
    const w = r.reads.windowed;
    const p = r.reads.plain;
    lines.push(
      `| ${r.mode} | ${w.p50Millis.toFixed(2)} / ${w.p99Millis.toFixed(2)} | ${p.p50Millis.toFixed(2)} / ${p.p99Millis.toFixed(2)} | ` +
        `${r.reads.ratio.p50.toFixed(2)} / ${r.reads.ratio.p99.toFixed(2)} | ≤ ${r.reads.target}× | ${rate(r.reads.loadedEvents)} |`,
    );
  }
  const memory = results.flatMap((r) => r.memory.map((m) => ({ mode: r.mode, ...m })));
  if (memory.length > 0) {
    lines.push('', '| store | entity | hash bytes | dedup set bytes |', '|---|---|---|---|');
    for (const m of memory) {
      lines.push(
        `| ${m.mode} | ${m.density}${m.events === undefined ? '' : ` (${rate(m.events)} events)`} | ${rate(m.hashBytes)} | ${rate(m.dedupBytes)} |`,
      );
    }
  }
  return lines.join('\n');
}
