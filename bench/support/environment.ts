import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';

/** Load average now, with a warning on stderr when the machine is already busy (noisy figures). */
export function loadAtStart(): number[] {
  const load = loadavg();
  if ((load[0] ?? 0) > cpus().length / 2) {
    console.error(
      `bench: warning: load average ${load.map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} CPUs; figures will be noisy`,
    );
  }
  return load;
}

/** What a results file records about the machine; `engines` names the engine versions measured. */
export function machineInfo(loadAverageAtStart: readonly number[], engines: Readonly<Record<string, unknown>>) {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemoryBytes: totalmem(),
    platform: `${process.platform} ${release()}`,
    node: process.version,
    ...engines,
    loadAverageAtStart,
    loadAverageAtEnd: loadavg(),
  };
}

/** The commit measured and how many files differed from it. */
export function gitState(repoRoot: string): { commit: string; changedFiles: number } | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' });
    return { commit, changedFiles: status.split('\n').filter(Boolean).length };
  } catch {
    return undefined;
  }
}
