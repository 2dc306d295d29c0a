// The tracing-cost benchmark's result shape and table, shared by the script and the bench report.
import type { LatencySummary } from './latency.js';

/** One variant of one case. */
export interface TracingVariantResult {
  readonly variant: string;
  readonly latency: LatencySummary;
  readonly ratio: { readonly p50: number; readonly p99: number };
  readonly p50RatioTarget: number;
  readonly serverCpuMicrosPerCall: number | null;
}

/** One case: every variant, the baseline (off) first. */
export interface TracingCaseResult {
  readonly id: string;
  readonly variants: readonly TracingVariantResult[];
}

/** The cases as a markdown table: p50/p99, ratios to tracing off, server CPU per call. */
export function tracingMarkdownTable(results: readonly TracingCaseResult[]): string {
  const lines = [
    '| case | tracing | p50 ms | p99 ms | p50 ratio | target | p99 ratio | server CPU µs/call |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const result of results) {
    for (const v of result.variants) {
      lines.push(
        `| ${result.id} | ${v.variant} | ${v.latency.p50Millis.toFixed(3)} | ${v.latency.p99Millis.toFixed(3)} | ` +
          `${v.ratio.p50.toFixed(3)}× | ≤ ${v.p50RatioTarget}× | ${v.ratio.p99.toFixed(2)}× | ` +
          `${v.serverCpuMicrosPerCall === null ? '–' : v.serverCpuMicrosPerCall.toFixed(0)} |`,
      );
    }
  }
  return lines.join('\n');
}
