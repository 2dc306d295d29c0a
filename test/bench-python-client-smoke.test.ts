import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
// The first run on a machine builds the bench's venv with pip (grpcio, grpcio-tools, pandas, pyarrow).
const SMOKE_TIMEOUT_MILLIS = 15 * 60_000;

interface Summary {
  calls: number;
  p50Millis: number;
  p99Millis: number;
}
interface PythonClientCase {
  id: string;
  entities: number;
  features: number;
  client: Summary;
  raw: Summary;
  ratio: { p50: number; p99: number };
  rounds: number;
}

// Checks that the Python-client benchmark still runs end to end against the current code (the client
// of this checkout installs, both paths read every value PRESENT — the Python side fails otherwise),
// not its timings.
describe('bench/python-client.ts --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it(
    'measures the Python client against the raw grpcio stub on both shapes, interleaved, with finite ratios',
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'tessera-python-client-bench-smoke-'));
      const { stdout } = await execFileAsync(
        join(REPO_ROOT, 'node_modules/.bin/tsx'),
        ['bench/python-client.ts', '--smoke', '--out', outDir],
        { cwd: REPO_ROOT, timeout: SMOKE_TIMEOUT_MILLIS },
      );
      const files = (await readdir(outDir)).filter((name) => /^python-client-.*\.json$/.test(name));
      expect(files).toHaveLength(1);
      const report = JSON.parse(await readFile(join(outDir, files[0] as string), 'utf8')) as {
        cases: PythonClientCase[];
        machine: { python: string; grpcio: string };
      };
      expect(report.machine.grpcio).toBe('1.85.4');
      expect(report.cases.map((c) => c.id)).toEqual(['1x10', '100x10']);
      for (const c of report.cases) {
        for (const side of [c.client, c.raw]) {
          expect(side.calls, c.id).toBeGreaterThan(0);
          expect(side.p99Millis, c.id).toBeGreaterThanOrEqual(side.p50Millis);
        }
        // Interleaved: more than one round of blocks, so neither side ran all its calls in one go.
        expect(c.rounds, c.id).toBeGreaterThan(1);
        expect(c.ratio.p50, c.id).toBeCloseTo(c.client.p50Millis / c.raw.p50Millis, 9);
        expect(c.ratio.p99, c.id).toBeCloseTo(c.client.p99Millis / c.raw.p99Millis, 9);
        expect(Number.isFinite(c.ratio.p50) && c.ratio.p50 > 0, `${c.id} p50 ratio`).toBe(true);
      }
      expect(stdout).toContain('| 100×10 |');
    },
    SMOKE_TIMEOUT_MILLIS + 10_000,
  );
});
