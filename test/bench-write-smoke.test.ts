import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Throughput {
  rows: number;
  featureValuesPerSecond: number;
}

// Checks that the write benchmark still runs end to end against the current code, not its figures.
describe('bench/write-throughput.ts --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('writes through WriteStream and raw, drains the queue, and reports both as JSON', async () => {
    outDir = await mkdtemp(join(tmpdir(), 'tessera-write-bench-smoke-'));
    const nodes = inject('redisCluster')
      .nodes.map((node) => `${node.host}:${node.port}`)
      .join(',');
    await execFileAsync(
      join(REPO_ROOT, 'node_modules/.bin/tsx'),
      ['bench/write-throughput.ts', '--smoke', '--out', outDir, '--redis-cluster', nodes],
      { cwd: REPO_ROOT, timeout: 150_000 },
    );
    const files = (await readdir(outDir)).filter((name) => /^write-throughput-.*\.json$/.test(name));
    expect(files).toHaveLength(1);
    const report = JSON.parse(await readFile(join(outDir, files[0] as string), 'utf8')) as {
      result: {
        tessera: Throughput;
        raw: Throughput;
        ratio: number;
        lag: { drained: boolean; samples: number };
        deadLetters: number;
        unaryWrite100Rows: Record<'writeBehind' | 'replicated', { calls: number; p50Millis: number }>;
      };
    };
    const { result } = report;
    expect(result.tessera.rows).toBeGreaterThan(0);
    expect(result.raw.rows).toBeGreaterThan(0);
    expect(result.ratio).toBeCloseTo(result.tessera.featureValuesPerSecond / result.raw.featureValuesPerSecond, 6);
    expect(result.lag.drained).toBe(true);
    expect(result.lag.samples).toBeGreaterThan(0);
    expect(result.deadLetters).toBe(0);
    for (const latency of Object.values(result.unaryWrite100Rows)) {
      expect(latency.calls).toBeGreaterThan(0);
      expect(latency.p50Millis).toBeGreaterThan(0);
    }
  }, 180_000);
});
