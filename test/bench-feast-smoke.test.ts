import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');

interface Figures {
  requests: number;
  errors: number;
  rps: number;
}

// Keeps `npm run bench -- feast` from rotting: Feast installed into a venv in the per-user cache by the
// script (pip, ~40 s the first time), its own Redis Cluster, the servers loaded with vegeta (Feast,
// HTTP) and ghz (Tessera, gRPC), every comparison at tiny sizes.
describe('npm run bench -- feast --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('compares Tessera and Feast online (SDK and servers) and on one training set, which agree', async () => {
    outDir = await mkdtemp(join(tmpdir(), 'tessera-feast-smoke-'));
    await execFileAsync(TSX, ['bench/feast.ts', '--smoke', '--out', outDir], {
      cwd: REPO_ROOT,
      timeout: 1_500_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const { stdout } = await execFileAsync(TSX, ['bench/run.ts', '--report-only', '--out', outDir], {
      cwd: REPO_ROOT,
      timeout: 60_000,
    });
    const files = await readdir(outDir);
    const result = files.find((name) => name.startsWith('feast-') && name.endsWith('.json'));
    expect(result).toBeDefined();
    const report = JSON.parse(await readFile(join(outDir, result as string), 'utf8')) as {
      online: { tessera: { calls: number }; feast?: { calls: number } }[];
      serve: { tessera: Figures; feast: Figures }[];
      historical: { agree: boolean; tessera: { rows: number }; feast: { rows: number } }[];
    };
    expect(report.online.length).toBeGreaterThan(0);
    for (const shape of report.online) {
      expect(shape.tessera.calls).toBeGreaterThan(0);
      expect(shape.feast?.calls).toBeGreaterThan(0);
    }
    for (const shape of report.serve) {
      for (const side of [shape.tessera, shape.feast]) {
        expect(side.requests).toBeGreaterThan(0);
        expect(side.errors).toBe(0);
      }
    }
    expect(report.historical.length).toBeGreaterThan(0);
    for (const size of report.historical) {
      expect(size.agree).toBe(true);
      expect(size.tessera.rows).toBe(size.feast.rows);
    }
    expect(stdout).toContain('## Tessera beside Feast');
    expect(files.some((name) => /^chart-feast-.*\.svg$/.test(name))).toBe(true);
  }, 1_600_000);
});
