import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, expect, inject, it } from 'vitest';
import type { TesseraClient } from '@tessera/client';
import { startWriterProcess } from '@tessera/writer';
import { type CliProcess, pollUntil, startServeProcess } from '@tessera/testkit';
import {
  EVENTS_REPO,
  acknowledgedOnline,
  assertExactlyOnce,
  offlineRowsPerUser,
  runWriteLoad,
  type LoadResult,
} from '../support/write-load.js';

// kill -9 of a cluster-mode feature server under write load, i.e. between enqueue and ack for the
// writes in flight: every acknowledged write reaches ClickHouse once; an unacknowledged one at most once.

const { nodes } = inject('redisCluster');
const nodeList = nodes.map((n) => `${n.host}:${n.port}`).join(',');
const keyPrefix = `sk${randomBytes(4).toString('hex')}:`;
const dir = mkdtempSync(join(tmpdir(), 'tessera-server-kill-'));
const servers: CliProcess[] = [];

afterAll(async () => {
  for (const server of servers) await server.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(): Promise<{ process: CliProcess; client: TesseraClient }> {
  const server = await startServeProcess(['--redis-cluster', nodeList, '--key-prefix', keyPrefix]);
  servers.push(server.process);
  return server;
}

it('loses and duplicates nothing when the server is killed with writes in flight', async () => {
  const writer = await startWriterProcess({ nodes, keyPrefix, dataDir: dir, lockMillis: 1_500 });
  try {
    let server = await startServer();
    await server.client.apply(EVENTS_REPO);
    const load: LoadResult = { sent: 0, acknowledged: [], failed: 0 };
    const client = () => server.client;
    const loading = runWriteLoad(client, load, { concurrency: 8, maxWrites: 400, maxMillis: 30_000 });
    await pollUntil(() => Promise.resolve(load.acknowledged.length >= 100), 30_000, 5);
    await server.process.stop('SIGKILL');
    await loading;
    const killedAt = { sent: load.sent, acknowledged: load.acknowledged.length, failed: load.failed };
    server.client.close();

    server = await startServer();
    await runWriteLoad(client, load, { concurrency: 8, maxWrites: 100, maxMillis: 30_000 });
    expect(load.acknowledged.length).toBeGreaterThanOrEqual(killedAt.acknowledged + 100);
    const presentOnline = await acknowledgedOnline(server.client, load);

    const drained = await pollUntil(async () => (await writer.stats()).pendingJobs === 0, 60_000, 100);
    expect(drained).toBe(true);
    expect((await writer.stats()).deadLetters).toBe(0);
    server.client.close();
    await server.process.stop('SIGTERM');
    console.log(`server kill: at the kill ${JSON.stringify(killedAt)}`);
    assertExactlyOnce('server kill -9', load, await offlineRowsPerUser(writer.clickhouse!.executor), presentOnline);
  } finally {
    await writer.close();
  }
}, 180_000);
