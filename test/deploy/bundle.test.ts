import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { TesseraClient, fromColumn, toColumn } from '@tessera/client';
import { Durability, HistoricalFormat } from '@tessera/proto';
import { openBullmqDeadLetters } from '@tessera/writebehind';
import { type CliProcess, REPO_ROOT, pollUntil, startCli } from '@tessera/testkit';
import { healthProbe } from '../support/health-client.js';
import { EVENTS_REPO, offlineRowsPerUserIn, writeNumber } from '../support/write-load.js';

// The production bundle the Dockerfile copies, built by the same script (scripts/bundle.mjs), run
// from its own folder with nothing but `node`: no pnpm, no tsx, no dev dependencies, no checkout.
// As in the image, `.tessera` in the bundle links to a data volume and the commands keep their
// default data directories.

const { nodes } = inject('redisCluster');
const work = mkdtempSync(join(tmpdir(), 'tessera-bundle-'));
const bundle = join(work, 'bundle');
/** The image's /data. */
const volume = join(work, 'data');
/** What a container gives the process: node on PATH and a home folder; nothing from this test run. */
const SCRUBBED_ENV = { PATH: dirname(process.execPath), HOME: join(work, 'home') };
const cliDir = join(bundle, 'packages', 'cli');
const started: CliProcess[] = [];
let filesBefore: Map<string, string>;

beforeAll(async () => {
  mkdirSync(SCRUBBED_ENV.HOME);
  mkdirSync(volume);
  const startedAt = Date.now();
  await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'scripts', 'bundle.mjs'), '--out', bundle], {
    cwd: REPO_ROOT,
    timeout: 240_000,
  });
  console.log(`bundle built in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  filesBefore = listFiles(bundle);
  // The Dockerfile's `RUN ln -s /data /app/.tessera`, made after the listing: the one link that leaves.
  symlinkSync(volume, join(bundle, '.tessera'));
}, 300_000);

afterAll(async () => {
  for (const process of started) await process.stop('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** `tessera <args>` from the bundle's folder, with the scrubbed environment only. */
function startBundled(args: readonly string[]): CliProcess {
  const process = startCli(args, SCRUBBED_ENV, { root: bundle, replaceEnv: true });
  started.push(process);
  return process;
}

/** Every file and folder under `dir` with its size and modification time. */
function listFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isSymbolicLink()) files.set(relative(dir, full), `-> ${readlinkSync(full)}`);
      else if (entry.isDirectory()) walk(full);
      else {
        const stat = statSync(full);
        files.set(relative(dir, full), `${stat.size} ${stat.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return files;
}

/** Names of the packages installed in a pnpm node_modules: `@chdb+lib-linux-x64-gnu@26.7.3` → `@chdb/lib-linux-x64-gnu`. */
function installedPackages(): Set<string> {
  return new Set(
    readdirSync(join(cliDir, 'node_modules', '.pnpm')).map((entry) => {
      const scoped = entry.startsWith('@');
      return (scoped ? '@' : '') + (entry.slice(scoped ? 1 : 0).split('@')[0] ?? '').replace('+', '/');
    }),
  );
}

async function stopCleanly(process: CliProcess): Promise<void> {
  await process.stop('SIGTERM');
  expect(process.child.exitCode, process.output()).toBe(0);
}

it('holds the production dependencies with their native engines and none of the dev tools', () => {
  const installed = installedPackages();
  for (const name of [
    'chdb',
    '@chdb/lib-linux-x64-gnu',
    'lmdb',
    '@grpc/grpc-js',
    'ioredis',
    'bullmq',
    'parquet-wasm',
  ]) {
    expect(installed, name).toContain(name);
  }
  for (const name of ['typescript', 'vitest', 'eslint', 'prettier', 'tsx', 'madge', 'fast-check', 'ts-proto']) {
    expect(installed, name).not.toContain(name);
  }
  expect(installed).not.toContain('@tessera/testkit');
});

it('is self-contained and runs compiled JavaScript: no link leaves it, no TypeScript source in it', () => {
  const outside: string[] = [];
  const sources: string[] = [];
  const real = realpathSync(bundle);
  for (const [path, what] of filesBefore) {
    if (what.startsWith('->') && !realpathSync(join(bundle, path)).startsWith(real + sep)) outside.push(path);
    if (path.includes(`${sep}@tessera${sep}`) && /\.ts$/.test(path) && !path.endsWith('.d.ts')) sources.push(path);
  }
  expect(outside).toEqual([]);
  expect(sources).toEqual([]);
});

it('serves the embedded engines (LMDB and chDB) from the bundle with nothing but node', async () => {
  const serve = startBundled(['serve', '--port', '0']);
  const [, address = ''] = await serve.waitFor(/serving on (\S+)/);
  const probe = healthProbe(address);
  const client = new TesseraClient({ address, timeoutMillis: 20_000 });
  try {
    expect(await probe.check('')).toBe('SERVING');
    expect(await probe.check('tessera.v1.FeatureStore')).toBe('SERVING');
    await client.apply(EVENTS_REPO);
    // Sync: in chDB before the answer. Write 0 holds users 0..9 with amount = user id.
    await writeNumber(client, 0, Durability.DURABILITY_SYNC);
    const online = await client.getOnlineFeatures({ features: ['events:amount'], entities: { user_id: [3n] } });
    expect(online.values).toEqual([[3]]);
    const amounts: unknown[] = [];
    for await (const chunk of client.getHistorical({
      entities: {
        $case: 'rows',
        value: {
          keys: { user_id: toColumn('int64', [3n]) },
          eventTimestamps: [BigInt(Date.UTC(2026, 1, 1))],
          passthrough: {},
        },
      },
      features: ['events:amount'],
      featureService: '',
      format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
      chunkRows: 100,
    })) {
      const column = chunk.columns[chunk.names.indexOf('events__amount')];
      amounts.push(...(column === undefined ? [] : fromColumn(column)));
    }
    // The point-in-time join ran in the bundled chDB.
    expect(amounts).toEqual([3]);
  } finally {
    probe.close();
    client.close();
  }
  await stopCleanly(serve);
  expect(readdirSync(volume)).toEqual(expect.arrayContaining(['online', 'offline']));
}, 120_000);

it('runs a writer on the Redis Cluster that inserts a write acknowledged by a bundled server', async () => {
  const keyPrefix = `bd${randomBytes(4).toString('hex')}:`;
  const cluster = nodes.map((node) => `${node.host}:${node.port}`).join(',');
  const serve = startBundled(['serve', '--port', '0', '--redis-cluster', cluster, '--key-prefix', keyPrefix]);
  const writer = startBundled(['writer', '--redis-cluster', cluster, '--key-prefix', keyPrefix]);
  const [, address = ''] = await serve.waitFor(/serving on (\S+)/);
  await writer.waitFor(/writer consuming/);
  const probe = healthProbe(address);
  const client = new TesseraClient({ address, timeoutMillis: 20_000 });
  const queue = openBullmqDeadLetters(nodes, keyPrefix);
  try {
    expect(await probe.check('')).toBe('SERVING');
    await client.apply(EVENTS_REPO);
    await writeNumber(client, 0);
    const drained = await pollUntil(async () => (await queue.stats()).pendingJobs === 0, 30_000, 50);
    expect(drained, `queue not drained: ${JSON.stringify(await queue.stats())}`).toBe(true);
    expect((await queue.stats()).deadLetters).toBe(0);
  } finally {
    await queue.close();
    probe.close();
    client.close();
  }
  await stopCleanly(writer);
  expect(writer.output()).toContain('writer finishing the jobs in hand');
  await stopCleanly(serve);
  // The writer's chDB (default .tessera/writer, on the volume), opened once the writer is gone: the
  // ten rows of write 0, each once.
  const rows = await offlineRowsPerUserIn(join(volume, 'writer', 'offline'));
  expect([...rows.entries()].sort(([a], [b]) => a - b)).toEqual(Array.from({ length: 10 }, (_, user) => [user, 1]));
}, 120_000);

it('writes nothing into its own folder or its home at run time (a read-only root filesystem is enough)', () => {
  const after = listFiles(bundle);
  after.delete('.tessera');
  const changed = [...after].filter(([path, what]) => filesBefore.get(path) !== what);
  expect(changed.map(([path]) => path)).toEqual([]);
  expect(readdirSync(SCRUBBED_ENV.HOME)).toEqual([]);
});
