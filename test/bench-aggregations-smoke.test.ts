import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { AggregationsModeResult } from '../bench/support/aggregations-report.js';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

// Checks that the window-aggregation bench still runs end to end against the current code, not its figures.
describe('bench/aggregations.ts --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('writes with and without aggregations, reads windowed and plain features, on both stores', async () => {
    outDir = await mkdtemp(join(tmpdir(), 'tessera-agg-bench-smoke-'));
    const nodes = inject('redisCluster')
      .nodes.map((node) => `${node.host}:${node.port}`)
      .join(',');
    const { stdout } = await execFileAsync(
      join(REPO_ROOT, 'node_modules/.bin/tsx'),
      ['bench/aggregations.ts', '--smoke', '--out', outDir, '--redis-cluster', nodes],
      { cwd: REPO_ROOT, timeout: 170_000 },
    );
    expect(stdout).toContain('| store | writes with 3 aggregations rows/s |');
    const files = (await readdir(outDir)).filter((name) => /^aggregations-.*\.json$/.test(name));
    expect(files).toHaveLength(1);
    const report = JSON.parse(await readFile(join(outDir, files[0] as string), 'utf8')) as {
      config: { busyPerDay: number; historyDays: number };
      results: AggregationsModeResult[];
    };
    expect(report.results.map((r) => r.mode)).toEqual(['cluster', 'embedded']);
    for (const r of report.results) {
      expect(r.writes.aggregatedRowsPerSecond).toBeGreaterThan(0);
      expect(r.writes.plainRowsPerSecond).toBeGreaterThan(0);
      expect(r.writes.ratio).toBeCloseTo(r.writes.aggregatedRowsPerSecond / r.writes.plainRowsPerSecond, 6);
      // Every event of the busy entity is in its 7-day window: the load is whole and live.
      expect(r.reads.busyEntityCount7d).toBe(report.config.busyPerDay * report.config.historyDays);
      expect(r.reads.windowed.calls).toBeGreaterThan(0);
      expect(r.reads.plain.calls).toBeGreaterThan(0);
    }
    const memory = report.results.find((r) => r.mode === 'cluster')!.memory;
    expect(memory.map((m) => m.density)).toEqual(['busy', 'sparse']);
    expect(memory[0]!.hashBytes).toBeGreaterThan(memory[1]!.hashBytes);
  }, 180_000);
});
