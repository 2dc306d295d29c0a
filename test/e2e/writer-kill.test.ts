import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, expect, inject, it } from 'vitest';
import { openBullmqDeadLetters } from '@tessera/writebehind';
import { type CliProcess, pollUntil, startWriterCli } from '@tessera/testkit';
import { startTestServer } from '../support/server.js';
import {
  EVENTS_REPO,
  acknowledgedOnline,
  assertExactlyOnce,
  offlineRowsPerUserIn,
  runWriteLoad,
  type LoadResult,
} from '../support/write-load.js';

// kill -9 of a writer in the middle of inserts: the jobs it held are taken over once its lock
// lapses and inserted with the same token, so every acknowledged write lands exactly once.

const { nodes } = inject('redisCluster');
const keyPrefix = `wk${randomBytes(4).toString('hex')}:`;
const dir = mkdtempSync(join(tmpdir(), 'tessera-writer-kill-'));
const writers: CliProcess[] = [];

afterAll(async () => {
  for (const writer of writers) await writer.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startWriter(): Promise<CliProcess> {
  const writer = await startWriterCli(nodes, keyPrefix, dir, ['--lock-ms', '1500', '--concurrency', '2']);
  writers.push(writer);
  return writer;
}

it('loses and duplicates nothing when a writer is killed mid-insert and another takes over', async () => {
  await using t = await startTestServer({ kind: 'redis-cluster', nodes, keyPrefix });
  await t.client.apply(EVENTS_REPO);
  const queue = openBullmqDeadLetters(nodes, keyPrefix);
  try {
    const first = await startWriter();
    const load: LoadResult = { sent: 0, acknowledged: [], failed: 0 };
    await runWriteLoad(() => t.client, load, { concurrency: 4, maxWrites: 150, maxMillis: 30_000 });
    // Killed while it works through the backlog (and while writes keep arriving).
    const killing = (async () => {
      await pollUntil(async () => (await queue.stats()).pendingJobs > 0, 10_000, 5);
      await first.stop('SIGKILL');
    })();
    await runWriteLoad(() => t.client, load, { concurrency: 4, maxWrites: 150, maxMillis: 30_000 });
    await killing;
    const afterKill = await queue.stats();
    expect(load.failed).toBe(0);

    const second = await startWriter();
    const drained = await pollUntil(async () => (await queue.stats()).pendingJobs === 0, 60_000, 100);
    expect(drained, `queue not drained: ${JSON.stringify(await queue.stats())}`).toBe(true);
    expect((await queue.stats()).deadLetters).toBe(0);
    await second.stop('SIGTERM');
    console.log(`writer kill: ${afterKill.pendingJobs} jobs pending when the first writer died`);
    assertExactlyOnce(
      'writer kill -9',
      load,
      await offlineRowsPerUserIn(join(dir, 'offline')),
      await acknowledgedOnline(t.client, load),
    );
  } finally {
    await queue.close();
  }
}, 180_000);
