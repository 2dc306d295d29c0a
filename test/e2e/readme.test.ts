import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGrpcurl, type CliProcess } from '@tessera/testkit';
import { EXAMPLE_SHOP_ADDRESS, startExampleShop } from '../support/example-shop.js';

const ROOT = join(import.meta.dirname, '..', '..');
const README_ADDRESS = EXAMPLE_SHOP_ADDRESS;

interface Example {
  readonly file: string;
  readonly command: string;
  /** The output block printed right after the command, if any. */
  readonly expected?: string;
  /** Language of the output block: json blocks are compared as JSON (formatting aside). */
  readonly expectedLang?: string;
}

/** Every runnable command of a README's `sh` blocks, with the output block that follows it. */
function examplesOf(file: string): Example[] {
  const text = withoutOwnTests(readFileSync(join(ROOT, file), 'utf8'));
  const blocks = [...text.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1]!,
    body: m[2]!,
    end: m.index + m[0].length,
    start: m.index,
  }));
  const examples: Example[] = [];
  blocks.forEach((block, i) => {
    if (block.lang !== 'sh') return;
    const commands = block.body.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
    // Commands that start servers, writers or the test suite itself are exercised elsewhere.
    const runnable = commands.filter((c) => !/npm (start|test)|tessera (serve|writer)/.test(c));
    const next = blocks[i + 1];
    const followed = next && next.lang !== 'sh' && text.slice(block.end, next.start).trim() === '';
    runnable.forEach((command, k) => {
      const last = k === runnable.length - 1;
      examples.push({ file, command, ...(followed && last ? { expected: next.body, expectedLang: next.lang } : {}) });
    });
  });
  return examples;
}

/** Sections whose commands run against their own server, in their own test (readme-computing.test.ts). */
const OWN_TESTS = ['## Computing features'];

/** `text` without the sections of OWN_TESTS (each up to the next heading of its level or above). */
function withoutOwnTests(text: string): string {
  for (const heading of OWN_TESTS) {
    const start = text.indexOf(`\n${heading}\n`);
    if (start < 0) continue;
    const next = /^## /m.exec(text.slice(start + heading.length + 2));
    text = text.slice(0, start + 1) + (next ? text.slice(start + heading.length + 2 + next.index) : '');
  }
  return text;
}

function normalise(output: string): string {
  return output
    .split('\n')
    .filter((line) => !line.startsWith('npm warn'))
    .map((line) => line.trimEnd())
    .join('\n')
    .trim();
}

/** The READMEs' examples, run as printed against a server started like `npm start`. */
describe('README examples work as printed', () => {
  let server: CliProcess;
  let address: string;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const grpcurlDir = dirname(await ensureGrpcurl());
    dir = mkdtempSync(join(tmpdir(), 'tessera-readme-'));
    // The arguments of `npm start` (its sample data in examples/data too), on a free port and a fresh store.
    const shop = await startExampleShop(dir, join(ROOT, 'examples', 'data'));
    server = shop.process;
    address = shop.address;
    env = {
      ...process.env,
      TESSERA_SERVER: address,
      PATH: [grpcurlDir, join(ROOT, 'node_modules', '.bin'), process.env['PATH'] ?? ''].join(delimiter),
    };
  }, 300_000);

  afterAll(async () => {
    await server?.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(ROOT, 'train.csv'), { force: true });
  });

  it('the start script is the server these examples run against', () => {
    const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
      .scripts['start']!;
    expect(start).toContain('examples/generate.mjs');
    expect(start).toContain('serve --apply examples/feature_repo --load examples/data');
  });

  for (const file of ['README.md', 'examples/README.md']) {
    it(`runs every command of ${file}`, async () => {
      const examples = examplesOf(file);
      expect(examples.length).toBeGreaterThan(3);
      for (const example of examples) {
        const command = example.command.replaceAll(README_ADDRESS, address);
        const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile('bash', ['-c', command], { cwd: ROOT, env }, (error, stdout, stderr) =>
            resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
          );
        });
        const expectsFailure = example.expected?.startsWith('tessera: ') ?? false;
        expect(result.code === 0, `${command}\n${result.stderr}`).toBe(!expectsFailure);
        if (example.expected !== undefined && example.expectedLang === 'json') {
          expect(JSON.parse(result.stdout), command).toEqual(JSON.parse(example.expected));
        } else if (example.expected !== undefined) {
          expect(normalise(expectsFailure ? result.stderr : result.stdout), command).toBe(normalise(example.expected));
        }
      }
    });
  }
});
