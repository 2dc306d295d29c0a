/**
 * README.md's "Computing features" section run as printed (docs/design/window-aggregations.md §6.1,
 * increment 11): its serve command's generator writes examples/computing-features/data, the server
 * is started with the printed arguments (on a free port and a fresh folder instead of
 * `.tessera-computing`), then every other command runs in a shell with TESSERA_SERVER pointing at it
 * and its output is compared with the block printed after it.
 *
 * The printed values are deterministic: the data is seeded and every time is relative to the moment
 * of generation. The SQL view's day is the UTC day before; generating within a minute after midnight
 * UTC would move some events to the day before that.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCli, type CliProcess } from '@tessera/testkit';
import { codeBlocks, readmeSection, type CodeBlock } from '../support/readme-blocks.js';

const HEADING = '## Computing features';
const SERVE =
  'rm -rf .tessera-computing && node examples/computing-features/generate.mjs && npx tessera serve --data-dir .tessera-computing --apply examples/computing-features/feature_repo --load examples/computing-features/data';

function section(): string {
  return readmeSection('README.md', HEADING);
}

function normalise(output: string): string {
  return output
    .split('\n')
    .filter((line) => !line.startsWith('npm warn'))
    .map((line) => line.trimEnd())
    .join('\n')
    .trim();
}

describe('README "Computing features" works as printed', () => {
  const blocks = codeBlocks(section());
  let server: CliProcess;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const serve = blocks.filter((b) => b.lang === 'sh' && b.body.includes('tessera serve'));
    expect(serve.map((b) => b.body.trim())).toEqual([SERVE]);
    // The generator as printed; the server with the printed arguments on a free port and a fresh folder.
    await promisify(execFile)('node', ['examples/computing-features/generate.mjs'], {
      cwd: REPO_ROOT,
      timeout: 60_000,
    });
    dir = mkdtempSync(join(tmpdir(), 'tessera-readme-computing-'));
    server = startCli([
      'serve',
      '--port',
      '0',
      '--data-dir',
      join(dir, 'store'),
      '--apply',
      'examples/computing-features/feature_repo',
      '--load',
      'examples/computing-features/data',
    ]);
    const [, address = ''] = await server.waitFor(/serving on (\S+)/);
    await server.waitFor(/tessera: loaded /);
    env = {
      ...process.env,
      TESSERA_SERVER: address,
      PATH: [join(REPO_ROOT, 'node_modules', '.bin'), process.env['PATH'] ?? ''].join(delimiter),
    };
  }, 300_000);

  afterAll(async () => {
    await server?.stop('SIGTERM');
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    rmSync(join(REPO_ROOT, 'computing.csv'), { force: true });
    rmSync(join(REPO_ROOT, 'examples/computing-features/data'), { recursive: true, force: true });
  });

  it('runs every command and prints what the section shows', async () => {
    const commands = blocks.filter((b) => b.lang === 'sh' && !b.body.includes('tessera serve'));
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const block of commands) {
      const expected: CodeBlock | undefined = blocks[blocks.indexOf(block) + 1];
      expect(expected?.lang, block.body).toBe('text');
      const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile('bash', ['-c', block.body], { cwd: REPO_ROOT, env, timeout: 120_000 }, (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
        );
      });
      expect(result.code, `${block.body}\n${result.stderr}`).toBe(0);
      expect(normalise(result.stdout), block.body).toBe(normalise(expected!.body));
    }
    expect(existsSync(join(REPO_ROOT, 'computing.csv'))).toBe(true);
  }, 300_000);

  it('serves revenue_by_category_30d per (customer, category): the categories add up to revenue_30d', async () => {
    const { stdout } = await promisify(execFile)(
      'bash',
      [
        '-c',
        'npx tessera get purchases:revenue_by_category_30d,purchases:revenue_30d --json ' +
          '--entity customer_id=1001,1001,1001,1001,1020 --entity category=audio,books,garden,kitchen,audio',
      ],
      { cwd: REPO_ROOT, env, timeout: 120_000 },
    );
    const rows = JSON.parse(stdout) as Record<string, unknown>[];
    const grouped = rows.map((r) => r['purchases:revenue_by_category_30d'] as number);
    const total = rows[0]!['purchases:revenue_30d'] as number;
    expect(grouped.slice(0, 4).some((v) => v > 0 && v < total)).toBe(true);
    expect(grouped.slice(0, 4).reduce((a, b) => a + b, 0)).toBeCloseTo(total, 9);
    // Customer 1020 never bought anything: an empty window, 0.
    expect(grouped[4]).toBe(0);
  }, 120_000);
});
