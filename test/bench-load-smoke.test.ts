import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Figures {
  requests: number;
  rps: number;
  p99Millis: number;
  errors: number;
}

// Keeps `npm run bench -- online-load` (ghz built with go install) and the report step from rotting.
describe('npm run bench -- online-load --smoke', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('loads the server in both modes with ghz and raw loops, then writes the report and its charts', async () => {
    outDir = await mkdtemp(join(tmpdir(), 'tessera-load-smoke-'));
    const nodes = inject('redisCluster')
      .nodes.map((node) => `${node.host}:${node.port}`)
      .join(',');
    for (const mode of ['cluster', 'embedded']) {
      await execFileAsync(
        join(REPO_ROOT, 'node_modules/.bin/tsx'),
        ['bench/online-load.ts', '--smoke', '--mode', mode, '--out', outDir, '--redis-cluster', nodes],
        { cwd: REPO_ROOT, timeout: 600_000 },
      );
    }
    const { stdout } = await execFileAsync(
      join(REPO_ROOT, 'node_modules/.bin/tsx'),
      ['bench/run.ts', '--report-only', '--out', outDir],
      { cwd: REPO_ROOT, timeout: 60_000 },
    );
    const files = await readdir(outDir);
    for (const mode of ['cluster', 'embedded']) {
      const result = files.find((name) => name.startsWith(`online-load-${mode}-`) && name.endsWith('.json'));
      expect(result, mode).toBeDefined();
      const report = JSON.parse(await readFile(join(outDir, result as string), 'utf8')) as {
        mode: string;
        redisBenchmarkGetPerSecond: number;
        cases: {
          id: string;
          closed: Figures;
          open: (Figures & { targetRps: number })[];
          raw: Figures;
          grpcFloor: Figures;
          responseBytes: number;
          server: { cpuMicrosPerRequest: number };
          grpcFloorServer: { cpuMicrosPerRequest: number };
        }[];
      };
      expect(report.mode).toBe(mode);
      // redis-benchmark is the cluster's ceiling; the embedded store has none.
      if (mode === 'cluster') expect(report.redisBenchmarkGetPerSecond).toBeGreaterThan(0);
      const [shape] = report.cases;
      expect(shape?.closed.requests).toBeGreaterThan(0);
      expect(shape?.closed.errors, JSON.stringify(shape?.closed)).toBe(0);
      expect(shape?.open.length).toBeGreaterThan(0);
      expect(shape?.raw.requests).toBeGreaterThan(0);
      // The bare grpc-js floor answered the same ghz load with Tessera's own response bytes.
      expect(shape?.grpcFloor.requests).toBeGreaterThan(0);
      expect(shape?.grpcFloor.errors, JSON.stringify(shape?.grpcFloor)).toBe(0);
      expect(shape?.responseBytes).toBeGreaterThan(0);
      expect(shape?.server.cpuMicrosPerRequest).toBeGreaterThan(0);
      expect(shape?.grpcFloorServer.cpuMicrosPerRequest).toBeGreaterThan(0);
      expect(stdout).toContain(`## Online read load (ghz), ${mode}`);
    }
    expect(files.filter((name) => /^chart-online-load-.*\.svg$/.test(name))).toHaveLength(4);
    expect(files.some((name) => /^report-.*\.md$/.test(name))).toBe(true);
  }, 660_000);
});
