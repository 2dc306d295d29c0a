import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SMOKE_TIMEOUT_MILLIS = 120_000;

interface Summary {
  calls: number;
  p50Millis: number;
  p99Millis: number;
}
interface CaseResult {
  id: string;
  tessera: Summary;
  tesseraEndToEnd: Summary;
  grpcFloor: Summary;
  cannedFloor: Summary;
  rawHmget: Summary | null;
  ratio: { p50: number; p99: number } | null;
}

// Checks that the latency benchmark still runs end to end against the current code, not its timings.
describe('bench/online-latency.ts --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it(
    'measures every case on both backends and writes them as JSON',
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'tessera-bench-smoke-'));
      const nodes = inject('redisCluster')
        .nodes.map((node) => `${node.host}:${node.port}`)
        .join(',');
      await execFileAsync(
        join(REPO_ROOT, 'node_modules/.bin/tsx'),
        ['bench/online-latency.ts', '--smoke', '--out', outDir, '--redis-cluster', nodes],
        { cwd: REPO_ROOT, timeout: SMOKE_TIMEOUT_MILLIS },
      );
      const files = (await readdir(outDir)).filter((name) => /^online-latency-.*\.json$/.test(name));
      expect(files).toHaveLength(1);
      const report = JSON.parse(await readFile(join(outDir, files[0] as string), 'utf8')) as {
        machine: { cpus: number; node: string; redis: string };
        cases: CaseResult[];
        sdk: { id: string; ratio: { p50: number } }[];
      };
      expect(report.machine.cpus).toBeGreaterThan(0);
      expect(report.machine.redis).toMatch(/^\d+\.\d+/);
      expect(report.cases.map((c) => c.id)).toEqual([
        'embedded 1x10',
        'embedded 100x10',
        'embedded 1x50',
        'embedded 100x50',
        'redis-cluster 1x10',
        'redis-cluster 100x10',
        'redis-cluster 1x50',
        'redis-cluster 100x50',
      ]);
      // The SDK goal's comparison: client e2e over a bare grpc-js call of the same bytes, per Redis shape.
      expect(report.sdk.map((s) => s.id)).toEqual(['1x10', '100x10', '1x50', '100x50']);
      for (const s of report.sdk) expect(s.ratio.p50, s.id).toBeGreaterThan(0);
      for (const c of report.cases) {
        const summaries = [
          c.tessera,
          c.tesseraEndToEnd,
          c.grpcFloor,
          c.cannedFloor,
          ...(c.rawHmget ? [c.rawHmget] : []),
        ];
        for (const s of summaries) {
          expect(s.calls, c.id).toBeGreaterThan(0);
          expect(s.p50Millis, c.id).toBeGreaterThan(0);
          expect(s.p99Millis, c.id).toBeGreaterThanOrEqual(s.p50Millis);
        }
        if (c.id.startsWith('redis-cluster')) {
          expect(c.rawHmget, c.id).not.toBeNull();
          expect(c.ratio?.p50, c.id).toBeGreaterThan(0);
        }
      }
    },
    SMOKE_TIMEOUT_MILLIS + 10_000,
  );
});
