/**
 * README.md's "Clients" section as printed: the TypeScript example run (with the command the README
 * gives) against a server started like `npm start`, its output compared with the block the README
 * shows; the Python example and the Go command are the ones the clients' own READMEs print, which
 * test/clients/python.test.ts and test/clients/go.test.ts run as printed, so neither can drift from a
 * tested example.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, type CliProcess } from '@tessera/testkit';
import { blockWith, codeBlocks, outputAfter, readmeSection } from '../support/readme-blocks.js';
import { EXAMPLE_SHOP_ADDRESS, startExampleShop } from '../support/example-shop.js';

const run = promisify(execFile);
/** The address the examples use: `npm start`'s. */
const README_ADDRESS = EXAMPLE_SHOP_ADDRESS;
const RUN_TIMEOUT_MILLIS = 60_000;

const clients = codeBlocks(readmeSection('README.md', '## Clients').split('\n### ')[0]!);

/** The one block of `lang` matching `pattern` in one of the clients' own READMEs. */
function packageReadmeBlock(file: string, lang: string, pattern: RegExp): string {
  return blockWith(codeBlocks(readFileSync(join(REPO_ROOT, file), 'utf8')), lang, pattern).body;
}

describe('the Python and Go examples are the tested ones of the clients’ READMEs', () => {
  it('prints clients/python/README.md’s install command and example, byte for byte', () => {
    expect(blockWith(clients, 'shell', /pip install/).body).toBe(
      packageReadmeBlock('clients/python/README.md', 'sh', /pip install/),
    );
    expect(blockWith(clients, 'python', /tessera_client/).body).toBe(
      packageReadmeBlock('clients/python/README.md', 'python', /tessera_client/),
    );
  });

  it('prints clients/go/README.md’s command and the output it shows, byte for byte', () => {
    const command = blockWith(clients, 'shell', /go run/);
    const goReadme = codeBlocks(readFileSync(join(REPO_ROOT, 'clients/go/README.md'), 'utf8'));
    const tested = blockWith(goReadme, 'sh', /go run/);
    expect(command.body).toBe(tested.body);
    expect(outputAfter(clients, command)).toBe(goReadme[goReadme.indexOf(tested) + 1]?.body);
  });
});

describe('the TypeScript example', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-readme-ts-'));
  let server: CliProcess | undefined;
  let address = '';

  beforeAll(async () => {
    const shop = await startExampleShop(dir);
    server = shop.process;
    address = shop.address;
    // "Saved in the repository root": packages resolve from the repository's node_modules.
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  }, 120_000);

  afterAll(async () => {
    await server?.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  const example = blockWith(clients, 'ts', /@tessera\/client/);
  const command = blockWith(clients, 'shell', /example\.mts/);

  it('type-checks under strict settings', async () => {
    const file = join(dir, 'typecheck.mts');
    writeFileSync(file, example.body);
    const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
    const args = ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--skipLibCheck', file];
    await expect(run(tsc, args, { cwd: dir, timeout: RUN_TIMEOUT_MILLIS })).resolves.toBeDefined();
  });

  it(
    'runs with the command printed and prints the output shown',
    async () => {
      expect(example.body).toContain(README_ADDRESS);
      writeFileSync(join(dir, 'example.mts'), example.body.replaceAll(README_ADDRESS, address));
      // npx finds tsx in node_modules/.bin; offline, so it can never fetch a package of that name instead.
      const { stdout } = await run('bash', ['-c', command.body], {
        cwd: dir,
        env: { ...process.env, npm_config_offline: 'true' },
        timeout: RUN_TIMEOUT_MILLIS,
      });
      expect(stdout).toBe(outputAfter(clients, command));
    },
    RUN_TIMEOUT_MILLIS,
  );
});
