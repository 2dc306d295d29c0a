import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
// The first run on a machine builds Feast's venv with pip (~75 s); later runs take about 40 s.
const SMOKE_TIMEOUT_MILLIS = 15 * 60_000;

interface Summary {
  calls: number;
  p50Millis: number;
  p99Millis: number;
}
interface Ratio {
  p50: number;
  p99: number;
}
interface FeastRemoteCase {
  id: string;
  entities: number;
  features: number;
  tessera: Summary;
  feastServe: Summary;
  inProcess: Summary;
  http: { tessera: Summary; feastServe: Summary };
  ratios: { feastServeOverTessera: Ratio; tesseraOverInProcess: Ratio; httpFeastServeOverTessera: Ratio };
  rounds: number;
  check: {
    batches: number;
    valuesCompared: number;
    valuesPresent: number;
  };
}

// Keeps `npm run bench -- feast-remote` from rotting: the pinned Feast SDK with its remote online
// store pointed at Tessera's Feast endpoints and at `feast serve`, and its own Redis store, on the
// suite's Redis Cluster, at tiny sizes. The run compares every answer across the three stores before
// timing and fails on a difference; this checks that it did, not its timings.
describe('npm run bench -- feast-remote --smoke', () => {
  const { nodes } = inject('redisCluster');
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it(
    'reads the same values through Tessera, feast serve and in process, then times the three interleaved',
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'tessera-feast-remote-smoke-'));
      const cluster = nodes.map((n) => `${n.host}:${n.port}`).join(',');
      const { stdout } = await execFileAsync(
        TSX,
        ['bench/feast-remote.ts', '--smoke', '--out', outDir, '--redis-cluster', cluster],
        { cwd: REPO_ROOT, timeout: SMOKE_TIMEOUT_MILLIS, maxBuffer: 64 * 1024 * 1024 },
      );
      const report = await execFileAsync(TSX, ['bench/run.ts', '--report-only', '--out', outDir], {
        cwd: REPO_ROOT,
        timeout: 60_000,
      });
      const files = await readdir(outDir);
      const results = files.filter((name) => /^feast-remote-.*\.json$/.test(name));
      expect(results).toHaveLength(1);
      const run = JSON.parse(await readFile(join(outDir, results[0] as string), 'utf8')) as {
        machine: { feast: string };
        cases: FeastRemoteCase[];
      };
      expect(run.machine.feast).toBe('0.67.0');
      expect(run.cases.map((c) => c.id)).toEqual(['1x10', '10x30']);
      for (const c of run.cases) {
        // Checked before timing: each check batch, every feature PRESENT with a value in every store,
        // and both remote stores' columns (join key + features) compared with the in-process store's.
        expect(c.check.batches, c.id).toBe(2);
        expect(c.check.valuesPresent, c.id).toBe(c.check.batches * c.entities * c.features);
        expect(c.check.valuesCompared, c.id).toBe(2 * c.check.batches * c.entities * (c.features + 1));
        for (const side of [c.tessera, c.feastServe, c.inProcess, c.http.tessera, c.http.feastServe]) {
          expect(side.calls, c.id).toBe(40);
          expect(side.p99Millis, c.id).toBeGreaterThanOrEqual(side.p50Millis);
        }
        // Interleaved: more than one round of blocks, so no store ran all its calls in one go.
        expect(c.rounds, c.id).toBeGreaterThan(1);
        expect(c.ratios.feastServeOverTessera.p50, c.id).toBeCloseTo(c.feastServe.p50Millis / c.tessera.p50Millis, 9);
        expect(c.ratios.tesseraOverInProcess.p99, c.id).toBeCloseTo(c.tessera.p99Millis / c.inProcess.p99Millis, 9);
      }
      expect(stdout).toContain('| 10×30 |');
      expect(report.stdout).toContain('SDK through its remote online store');
      expect(report.stdout).toContain('| 1×10 |');
      expect(files.some((name) => /^chart-feast-remote-.*\.svg$/.test(name))).toBe(true);
    },
    SMOKE_TIMEOUT_MILLIS + 10_000,
  );
});
