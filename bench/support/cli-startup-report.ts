/** Issue 18's target: one `tessera get` of one entity, end to end with process start, in at most this. */
export const CLI_STARTUP_TARGET_MILLIS = 300;

/** One run of a command as a new process. */
export interface ProcessRun {
  readonly wallMillis: number;
  /** User + system CPU time of the process; null where the platform does not say (not Linux). */
  readonly cpuMillis: number | null;
  readonly exitCode: number;
}

/** Median and 90th percentile (nearest rank) of a list of milliseconds. */
export interface RunSummary {
  readonly p50Millis: number;
  readonly p90Millis: number;
}

/** One command of bench/cli-startup.ts. */
export interface CliStartupCase {
  readonly id: string;
  readonly runs: number;
  readonly wall: RunSummary;
  readonly cpu: RunSummary | null;
}

function percentiles(values: readonly number[]): RunSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  return { p50Millis: at(0.5), p90Millis: at(0.9) };
}

/** Wall and CPU percentiles of the runs of one command. */
export function summarizeRuns(runs: readonly ProcessRun[]): Omit<CliStartupCase, 'id'> {
  if (runs.length === 0) throw new Error('no runs to summarize');
  const cpu = runs.map((r) => r.cpuMillis);
  return {
    runs: runs.length,
    wall: percentiles(runs.map((r) => r.wallMillis)),
    cpu: cpu.every((c): c is number => c !== null) ? percentiles(cpu) : null,
  };
}

const ms = (value: number): string => value.toFixed(0);

/** The markdown table of bench/README.md and the report: each command, the floor, and the target beside get. */
export function cliStartupMarkdownTable(cases: readonly CliStartupCase[]): string {
  const rows = cases.map((c) => {
    // The target is the command's: the floor and the unbundled variant are there to compare.
    const target = !c.id.startsWith('tessera get')
      ? '—'
      : `≤ ${CLI_STARTUP_TARGET_MILLIS}: ${c.wall.p50Millis <= CLI_STARTUP_TARGET_MILLIS ? 'met' : 'not met'} (p50 wall)`;
    return [
      c.id,
      `${ms(c.wall.p50Millis)} / ${ms(c.wall.p90Millis)}`,
      c.cpu === null ? '—' : `${ms(c.cpu.p50Millis)} / ${ms(c.cpu.p90Millis)}`,
      String(c.runs),
      target,
    ].join(' | ');
  });
  return [
    '| command | wall p50 / p90 ms | CPU (user + sys) p50 / p90 ms | runs | target ms |',
    '| ------- | ----------------- | ----------------------------- | ---- | --------- |',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}
