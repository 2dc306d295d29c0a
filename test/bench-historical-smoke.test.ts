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

interface Run {
  millis: number;
  rows: number;
  peakRssBytes: number;
  nullsInFirstFeature: number;
  granules?: { selected: number; total: number };
}
interface CaseResult {
  id: string;
  entityRows: number;
  contender: 'floor' | 'plain' | 'tessera';
  runs: Run[];
  failures: string[];
  summary: { medianMillis: number; rowsPerSecond: number; peakRssMaxBytes: number } | null;
  vsPlain: { time: number; peakRss: number } | null;
  timeOverFloor: number | null;
}

// Checks that the historical benchmark still runs end to end against the current code, not its timings.
describe('bench/historical.ts --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it(
    'measures the read floor, the plain query and every Tessera plan in child processes and writes them as JSON',
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'tessera-bench-historical-smoke-'));
      await execFileAsync(
        join(REPO_ROOT, 'node_modules/.bin/tsx'),
        ['bench/historical.ts', '--smoke', '--out', outDir],
        { cwd: REPO_ROOT, timeout: SMOKE_TIMEOUT_MILLIS },
      );
      const files = (await readdir(outDir)).filter((name) => /^historical-.*\.json$/.test(name));
      expect(files).toHaveLength(1);
      const report = JSON.parse(await readFile(join(outDir, files[0] as string), 'utf8')) as {
        machine: { cpus: number; chdb: string };
        nullCountMismatch: number[];
        cases: CaseResult[];
      };
      expect(report.machine.cpus).toBeGreaterThan(0);
      expect(report.machine.chdb).toMatch(/^\d+\.\d+/);
      expect(report.nullCountMismatch).toEqual([]);
      expect(report.cases.map((c) => c.id)).toEqual([
        'floor 2000',
        'plain 2000',
        'tessera hash 2000',
        'tessera full_sorting_merge 2000',
        'tessera key_ranges 2000',
      ]);
      for (const c of report.cases) {
        expect(c.failures, c.id).toEqual([]);
        expect(c.runs.length, c.id).toBeGreaterThan(0);
        for (const run of c.runs) {
          expect(run.rows, c.id).toBe(c.entityRows);
          expect(run.millis, c.id).toBeGreaterThan(0);
          expect(run.peakRssBytes, c.id).toBeGreaterThan(0);
        }
        expect(c.summary?.rowsPerSecond, c.id).toBeGreaterThan(0);
        if (c.contender === 'tessera') {
          expect(c.vsPlain?.time, c.id).toBeGreaterThan(0);
          expect(c.vsPlain?.peakRss, c.id).toBeGreaterThan(0);
          expect(c.timeOverFloor, c.id).toBeGreaterThan(0);
        }
        if (c.contender === 'floor') {
          // Granules of the three tables, and how many the request's own filter leaves to read.
          const granules = c.runs[0]?.granules;
          expect(granules?.total, c.id).toBeGreaterThan(0);
          expect(granules?.selected, c.id).toBeGreaterThan(0);
          expect(granules?.selected, c.id).toBeLessThanOrEqual(granules?.total ?? 0);
        }
      }
    },
    SMOKE_TIMEOUT_MILLIS + 10_000,
  );
});
