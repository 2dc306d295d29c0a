import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { JAEGER_BUILD_TIMEOUT_MILLIS } from '@tessera/testkit';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The bench builds Jaeger on a machine that has none yet (minutes), then runs for well under one. */
const SMOKE_TIMEOUT_MILLIS = JAEGER_BUILD_TIMEOUT_MILLIS + 150_000;

interface Summary {
  calls: number;
  p50Millis: number;
  p99Millis: number;
}
interface TracingCase {
  id: string;
  variants: { variant: string; latency: Summary; ratio: { p50: number; p99: number }; p50RatioTarget: number }[];
}

// Checks that the tracing-cost benchmark still runs end to end against the current code (servers
// started with tracing export to a real Jaeger), not its timings.
describe('bench/tracing-cost.ts --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it(
    'measures tracing off, 1 % and 100 % in one run, reports finite ratios and finds the 100 % traces in Jaeger',
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'tessera-tracing-bench-smoke-'));
      const nodes = inject('redisCluster')
        .nodes.map((node) => `${node.host}:${node.port}`)
        .join(',');
      await execFileAsync(
        join(REPO_ROOT, 'node_modules/.bin/tsx'),
        ['bench/tracing-cost.ts', '--smoke', '--out', outDir, '--redis-cluster', nodes],
        { cwd: REPO_ROOT, timeout: SMOKE_TIMEOUT_MILLIS },
      );
      const files = (await readdir(outDir)).filter((name) => /^tracing-cost-.*\.json$/.test(name));
      expect(files).toHaveLength(1);
      const report = JSON.parse(await readFile(join(outDir, files[0] as string), 'utf8')) as {
        cases: TracingCase[];
        exportedTraces: Record<string, number>;
      };
      expect(report.cases.map((c) => c.id)).toEqual(['online 1x50', 'write 10x50']);
      for (const c of report.cases) {
        expect(
          c.variants.map((v) => v.variant),
          c.id,
        ).toEqual(['off', '1%', '100%']);
        expect(
          c.variants.map((v) => v.p50RatioTarget),
          c.id,
        ).toEqual([1, 1.05, 1.15]);
        for (const v of c.variants) {
          expect(v.latency.calls, `${c.id} ${v.variant}`).toBeGreaterThan(0);
          expect(v.latency.p99Millis, `${c.id} ${v.variant}`).toBeGreaterThanOrEqual(v.latency.p50Millis);
          expect(Number.isFinite(v.ratio.p50) && v.ratio.p50 > 0, `${c.id} ${v.variant} p50 ratio`).toBe(true);
        }
        expect(c.variants[0]?.ratio).toEqual({ p50: 1, p99: 1 });
      }
      // Every call of the 100 % server is a trace of its own (warm-up included).
      const calls100 = report.cases.reduce((n, c) => n + (c.variants[2]?.latency.calls ?? 0), 0);
      expect(report.exportedTraces['100%']).toBeGreaterThanOrEqual(calls100);
    },
    SMOKE_TIMEOUT_MILLIS + 10_000,
  );
});
