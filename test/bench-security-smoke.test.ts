import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
// The bench builds ghz into the Go tool cache if it is not there yet (~40 s on a new machine).
const SMOKE_TIMEOUT_MILLIS = 240_000;

interface Summary {
  calls: number;
  p50Millis: number;
  p99Millis: number;
}
interface SecurityCase {
  id: string;
  variants: { variant: string; latency: Summary; plain: Summary; ratio: { p50: number; p99: number } }[];
  floors: { plain: Summary; tls: Summary };
  goClient: { plainP50Millis: number; securedP50Millis: number; ratioP50: number; calls: number };
  p50RatioTarget: number;
}

// Checks that the security-cost benchmark still runs end to end against the current code (servers
// with auth, TLS and mTLS accept the keys and certificates it makes), not its timings.
describe('bench/security-cost.ts --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it(
    'measures each secured port against the plaintext listener of the same server, on both stores, with finite ratios',
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'tessera-security-bench-smoke-'));
      const nodes = inject('redisCluster')
        .nodes.map((node) => `${node.host}:${node.port}`)
        .join(',');
      await execFileAsync(
        join(REPO_ROOT, 'node_modules/.bin/tsx'),
        ['bench/security-cost.ts', '--smoke', '--out', outDir, '--redis-cluster', nodes],
        { cwd: REPO_ROOT, timeout: SMOKE_TIMEOUT_MILLIS },
      );
      const files = (await readdir(outDir)).filter((name) => /^security-cost-.*\.json$/.test(name));
      expect(files).toHaveLength(1);
      const report = JSON.parse(await readFile(join(outDir, files[0] as string), 'utf8')) as {
        cases: SecurityCase[];
      };
      expect(report.cases.map((c) => c.id)).toEqual([
        'redis-cluster 1x50',
        'redis-cluster 100x50',
        'embedded 1x50',
        'embedded 100x50',
      ]);
      for (const c of report.cases) {
        const names = c.variants.map((v) => v.variant);
        expect(names, c.id).toEqual(
          c.id.startsWith('redis-cluster') ? ['tls', 'auth', 'auth+tls', 'auth+mtls'] : ['auth+tls'],
        );
        for (const v of c.variants) {
          expect(v.latency.calls, `${c.id} ${v.variant}`).toBeGreaterThan(0);
          expect(v.plain.calls, `${c.id} ${v.variant} plain`).toBeGreaterThan(0);
          expect(v.ratio.p50, `${c.id} ${v.variant}`).toBeCloseTo(v.latency.p50Millis / v.plain.p50Millis, 9);
          expect(v.latency.p99Millis, `${c.id} ${v.variant}`).toBeGreaterThanOrEqual(v.latency.p50Millis);
          expect(Number.isFinite(v.ratio.p50) && v.ratio.p50 > 0, `${c.id} ${v.variant} p50 ratio`).toBe(true);
          expect(Number.isFinite(v.ratio.p99) && v.ratio.p99 > 0, `${c.id} ${v.variant} p99 ratio`).toBe(true);
        }
        expect(c.floors.plain.calls, c.id).toBeGreaterThan(0);
        expect(c.floors.tls.calls, c.id).toBeGreaterThan(0);
        // The Go client (ghz) went through TLS and the key too: every call answered (the bench fails on errors).
        expect(c.goClient.calls, `${c.id} ghz`).toBeGreaterThan(0);
        expect(c.goClient.ratioP50, `${c.id} ghz`).toBeCloseTo(
          c.goClient.securedP50Millis / c.goClient.plainP50Millis,
          9,
        );
        expect(c.p50RatioTarget).toBe(1.1);
      }
    },
    SMOKE_TIMEOUT_MILLIS + 10_000,
  );
});
