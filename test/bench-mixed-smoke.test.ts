import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Segment } from '../bench/support/mixed-result.js';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');

// Keeps `npm run bench -- mixed` (ghz reads + writes side by side, both server modes) and its report from rotting.
describe('npm run bench -- mixed --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('runs reads and writes at a fixed rate in both modes, then reports each segment', async () => {
    outDir = await mkdtemp(join(tmpdir(), 'tessera-mixed-smoke-'));
    const nodes = inject('redisCluster')
      .nodes.map((node) => `${node.host}:${node.port}`)
      .join(',');
    for (const mode of ['cluster', 'embedded']) {
      await execFileAsync(
        TSX,
        ['bench/mixed.ts', '--smoke', '--mode', mode, '--out', outDir, '--redis-cluster', nodes],
        {
          cwd: REPO_ROOT,
          timeout: 300_000,
        },
      );
    }
    const { stdout } = await execFileAsync(TSX, ['bench/run.ts', '--report-only', '--out', outDir], {
      cwd: REPO_ROOT,
      timeout: 60_000,
    });
    const files = await readdir(outDir);
    for (const mode of ['cluster', 'embedded']) {
      const result = files.find((name) => name.startsWith(`mixed-${mode}-`) && name.endsWith('.json'));
      expect(result, mode).toBeDefined();
      const report = JSON.parse(await readFile(join(outDir, result as string), 'utf8')) as {
        segments: Segment[];
        summary: { errors: number };
      };
      expect(report.segments).toHaveLength(2);
      for (const segment of report.segments) {
        expect(segment.reads.requests).toBeGreaterThan(0);
        expect(segment.writes.requests).toBeGreaterThan(0);
        expect(segment.server.rssBytes).toBeGreaterThan(0);
        expect(segment.writer !== undefined).toBe(mode === 'cluster');
      }
      expect(report.summary.errors).toBe(0);
      expect(stdout).toContain(`## Mixed 90 % reads / 10 % writes, ${mode}`);
    }
    expect(files.filter((name) => /^chart-mixed-.*\.svg$/.test(name))).toHaveLength(2);
  }, 660_000);
});
