/**
 * README.md's "Feast migration" steps run as printed, in a folder laid out as they assume (a Tessera
 * checkout's `node_modules`, the Feast repository in `./feature_repo`, Feast's Python in `.venv`): the
 * Feast SDK from PyPI (the version bench/feast pins, venv cached), test/e2e/feast/feature_repo applied
 * with `feast apply` and its data file written, as a user's repository has them. Only the ports of
 * step 2 are replaced by free ones (and the server's address given to `tessera write` through
 * TESSERA_SERVER, as a second terminal on the same machine would find it on the default port).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REPO_ROOT, ensurePythonVenv, pollUntil } from '@tessera/testkit';
import { blockWith, codeBlocks, outputAfter, readmeSection } from '../support/readme-blocks.js';

const run = promisify(execFile);
const steps = codeBlocks(readmeSection('README.md', '### Feast migration'));
const README_FEAST_PORT = '6568';
/** Feast's parser imports the repository in a fresh Python: about 10 s on two shared cores. */
const STEP_TIMEOUT_MILLIS = 120_000;
const STOP_TIMEOUT_MILLIS = 20_000;

/** The user's Feast data: what `tessera write` brings over (1001's older row loses to its newer one). */
const WRITE_DATA = `
import pandas as pd
now = pd.Timestamp.now(tz="UTC").floor("s")
pd.DataFrame({
    "driver_id": [1001, 1002, 1001],
    "conv_rate": [0.5, 0.25, 0.4],
    "acc_rate": [0.9, 0.8, 0.7],
    "avg_daily_trips": [12, 7, 10],
    "event_timestamp": [now - pd.Timedelta(hours=h) for h in (1, 2, 3)],
}).to_parquet("feature_repo/data/driver_stats.parquet")
`;

const dir = mkdtempSync(join(tmpdir(), 'tessera-readme-feast-'));
/** npx finds `tessera` in ./node_modules/.bin; offline, it can never fetch a package of that name instead. */
const env = { ...process.env, npm_config_offline: 'true' };
let python = '';
let server: ChildProcess | undefined;
let serverOutput = '';
let address = '';
let feastUrl = '';

/** A printed shell command, run in the layout's folder: its stdout and stderr; an error holding both when it fails. */
async function shell(command: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run('bash', ['-c', command], { cwd: dir, env: { ...env, ...extraEnv }, timeout: STEP_TIMEOUT_MILLIS });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} failed:\n${stdout}\n${stderr}`, { cause: error });
  }
}

beforeAll(async () => {
  python = await ensurePythonVenv({
    name: 'feast',
    requirements: readFileSync(join(REPO_ROOT, 'bench/feast/requirements.txt'), 'utf8'),
    log: (message) => console.error(`readme-feast: ${message}`),
  });
  symlinkSync(dirname(dirname(python)), join(dir, '.venv'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  cpSync(join(REPO_ROOT, 'test/e2e/feast/feature_repo'), join(dir, 'feature_repo'), { recursive: true });
  mkdirSync(join(dir, 'feature_repo', 'data'), { recursive: true });
  // The Feast user's starting point: the repository applied (its registry) and its data file.
  await Promise.all([
    run(join(dir, '.venv/bin/feast'), ['apply'], { cwd: join(dir, 'feature_repo'), timeout: STEP_TIMEOUT_MILLIS }),
    run(join(dir, '.venv/bin/python'), ['-c', WRITE_DATA], { cwd: dir, timeout: STEP_TIMEOUT_MILLIS }),
  ]);
}, 30 * 60_000);

/**
 * Whether a live (not zombie) process is left in process group `pgid`. The server is npx's child: once
 * npx has exited it belongs to PID 1, which does not reap here, so `kill(-pgid, 0)` would succeed forever.
 */
async function groupAlive(pgid: number): Promise<boolean> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // After the command name (in parentheses): state, ppid, pgrp.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

afterAll(async () => {
  const pid = server?.pid;
  if (pid !== undefined && (await groupAlive(pid))) {
    // npx runs the server as its child: stop the process group this test started, the server with it.
    process.kill(-pid, 'SIGTERM');
    if (!(await pollUntil(async () => !(await groupAlive(pid)), STOP_TIMEOUT_MILLIS, 200))) {
      process.kill(-pid, 'SIGKILL');
    }
  }
  rmSync(dir, { recursive: true, force: true });
}, STOP_TIMEOUT_MILLIS + 10_000);

it(
  'step 1 translates the repository and reports on stderr what it did not carry over',
  async () => {
    const command = blockWith(steps, 'shell', /tessera import feast/);
    const { stdout, stderr } = await shell(command.body);
    expect(stdout).toBe('');
    // npm's own warnings aside (as test/e2e/readme.test.ts does), stderr is the report the README shows.
    const report = stderr.split('\n').filter((line) => !line.startsWith('npm warn'));
    expect(report.join('\n')).toBe(outputAfter(steps, command));
    expect(readFileSync(join(dir, 'tessera_repo', 'driver_app.yaml'), 'utf8')).toContain('name: driver_hourly_stats');
  },
  STEP_TIMEOUT_MILLIS,
);

it(
  'step 2 serves the translated definitions with the Feast endpoints, and brings the data file over',
  async () => {
    const serve = blockWith(steps, 'shell', /tessera serve/).body.trim();
    expect(serve).toContain(`--feast-http-port ${README_FEAST_PORT}`);
    server = spawn('bash', ['-c', `exec ${serve.replace(README_FEAST_PORT, '0')} --port 0`], {
      cwd: dir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const seen = (pattern: RegExp): Promise<string> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(serverOutput);
          if (match) resolve(match[1] ?? match[0]);
        };
        server!.stdout!.on('data', check);
        server!.stderr!.on('data', check);
        server!.once('exit', (code) => reject(new Error(`the server exited with ${code}:\n${serverOutput}`)));
        check();
      });
    const collect = (chunk: Buffer): void => void (serverOutput += chunk.toString());
    server.stdout!.on('data', collect);
    server.stderr!.on('data', collect);
    address = await seen(/serving on (\S+)/);
    feastUrl = await seen(/Feast HTTP endpoints on (\S+)/);
    await seen(/applied \.\/tessera_repo/);

    const write = blockWith(steps, 'shell', /tessera write/);
    const { stdout } = await shell(write.body, { TESSERA_SERVER: address });
    expect(stdout).toBe(outputAfter(steps, write));
  },
  STEP_TIMEOUT_MILLIS,
);

it(
  "steps 3 and 4: the Feast SDK, configured with step 3's online store, reads Tessera with the printed code",
  async () => {
    const online = (parse(blockWith(steps, 'yaml', /online_store/).body) as { online_store: { path: string } })
      .online_store;
    expect(online).toEqual({ type: 'remote', path: `http://127.0.0.1:${README_FEAST_PORT}` });
    const configFile = join(dir, 'feature_repo', 'feature_store.yaml');
    const config = parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    // Replacing the SQLite store, which holds no rows: nothing was materialized into it.
    writeFileSync(configFile, stringify({ ...config, online_store: { ...online, path: feastUrl } }));

    const code = blockWith(steps, 'python', /get_online_features/).body;
    // Each `print(...)  # text` line promises that output line.
    const expected = [...code.matchAll(/^\s*print\(.*\)\s+# (.*)$/gm)].map((m) => m[1]);
    expect(expected).toHaveLength(1);
    writeFileSync(join(dir, 'step4.py'), code);
    const { stdout } = await run(join(dir, '.venv/bin/python'), ['step4.py'], {
      cwd: dir,
      timeout: STEP_TIMEOUT_MILLIS,
    });
    expect(stdout.trimEnd().split('\n')).toEqual(expected);
  },
  STEP_TIMEOUT_MILLIS,
);
