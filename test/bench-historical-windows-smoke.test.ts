import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SMOKE_TIMEOUT_MILLIS = 50_000;

// Checks that the window-aggregation bench still runs end to end against the current code, not its timings.
describe('bench/historical-windows.ts --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it(
    'measures the hand-written range join and Tessera in child processes, agreeing on the 30-day counts',
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'tessera-bench-windows-smoke-'));
      await execFileAsync(
        join(REPO_ROOT, 'node_modules/.bin/tsx'),
        ['bench/historical-windows.ts', '--smoke', '--out', outDir],
        { cwd: REPO_ROOT, timeout: SMOKE_TIMEOUT_MILLIS },
      );
      const files = (await readdir(outDir)).filter((name) => /^windows-.*\.json$/.test(name));
      expect(files).toHaveLength(1);
      const report = JSON.parse(await readFile(join(outDir, files[0] as string), 'utf8')) as {
        params: { events: number; rows: number };
        runs: { kind: string; rows: number; peakRssBytes: number; checksum: string }[];
        checksumsAgree: boolean;
        ratio: { time: number; peakRss: number };
      };
      expect(report.params).toMatchObject({ events: 20_000, rows: 2_000 });
      expect(report.runs.map((r) => [r.kind, r.rows])).toEqual([
        ['hand', 2_000],
        ['tessera', 2_000],
      ]);
      expect(report.checksumsAgree).toBe(true);
      expect(Number(report.runs[0]?.checksum)).toBeGreaterThan(0);
      expect(report.runs.every((r) => r.peakRssBytes > 0)).toBe(true);
      expect(report.ratio.time).toBeGreaterThan(0);
    },
    SMOKE_TIMEOUT_MILLIS + 10_000,
  );
});
