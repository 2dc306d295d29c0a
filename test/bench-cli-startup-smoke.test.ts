import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliStartupCase } from '../bench/support/cli-startup-report.js';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SMOKE_TIMEOUT_MILLIS = 3 * 60_000;

// Checks that the CLI start-up benchmark still runs end to end against the current code (a real
// `tessera serve`, `tessera get` printing the written value every run — the bench fails otherwise),
// not its timings.
describe('bench/cli-startup.ts --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it(
    'runs tessera get, the node floor and get without the bundle in turn, and reports them beside the 0.3 s target',
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'tessera-cli-startup-bench-smoke-'));
      const { stdout } = await execFileAsync(
        join(REPO_ROOT, 'node_modules/.bin/tsx'),
        ['bench/cli-startup.ts', '--smoke', '--out', outDir],
        { cwd: REPO_ROOT, timeout: SMOKE_TIMEOUT_MILLIS },
      );
      const files = (await readdir(outDir)).filter((name) => /^cli-startup-.*\.json$/.test(name));
      expect(files).toHaveLength(1);
      const report = JSON.parse(await readFile(join(outDir, files[0] as string), 'utf8')) as {
        cases: CliStartupCase[];
        target: { millis: number; measuredP50WallMillis: number; met: boolean };
        machine: { loadAverageAtStart: number[] };
      };
      expect(report.cases.map((c) => c.id)).toEqual([
        'node -e 0',
        'tessera get (1 entity × 1 feature)',
        'the same get, compiled modules (no bundle)',
      ]);
      for (const c of report.cases) {
        expect(c.runs, c.id).toBe(3);
        expect(c.wall.p90Millis, c.id).toBeGreaterThanOrEqual(c.wall.p50Millis);
        expect(c.wall.p50Millis, c.id).toBeGreaterThan(0);
        // CPU time comes from /proc on Linux, which these machines are.
        expect(c.cpu, c.id).not.toBeNull();
      }
      expect(report.target.millis).toBe(300);
      expect(report.target.measuredP50WallMillis).toBe(report.cases[1]!.wall.p50Millis);
      expect(report.machine.loadAverageAtStart).toHaveLength(3);
      expect(stdout).toContain('| tessera get (1 entity × 1 feature) |');
    },
    SMOKE_TIMEOUT_MILLIS + 10_000,
  );
});
