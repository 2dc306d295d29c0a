import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { TesseraClient } from '@tessera/client';
import { type CliProcess, pollUntil, startServeProcess } from '@tessera/testkit';
import {
  EVENTS_REPO,
  acknowledgedOnline,
  assertExactlyOnce,
  offlineRowsPerUserIn,
  runWriteLoad,
  type LoadResult,
} from '../support/write-load.js';

// kill -9 of the embedded server while its drainer moves the LMDB outbox into chDB: after a restart
// every acknowledged write is online and offline exactly once.

const dir = mkdtempSync(join(tmpdir(), 'tessera-embedded-kill-'));
const servers: CliProcess[] = [];

afterAll(async () => {
  for (const server of servers) await server.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(): Promise<{ process: CliProcess; client: TesseraClient }> {
  const server = await startServeProcess(['--data-dir', dir]);
  servers.push(server.process);
  return server;
}

it('loses and duplicates nothing when the embedded server is killed mid-drain', async () => {
  let server = await startServer();
  await server.client.apply(EVENTS_REPO);
  const load: LoadResult = { sent: 0, acknowledged: [], failed: 0 };
  const client = () => server.client;
  const loading = runWriteLoad(client, load, { concurrency: 8, maxWrites: 600, maxMillis: 30_000 });
  await pollUntil(() => Promise.resolve(load.acknowledged.length >= 200), 30_000, 5);
  await server.process.stop('SIGKILL');
  await loading;
  const killedAt = { sent: load.sent, acknowledged: load.acknowledged.length, failed: load.failed };
  server.client.close();

  server = await startServer();
  await runWriteLoad(client, load, { concurrency: 8, maxWrites: 100, maxMillis: 30_000 });
  const presentOnline = await acknowledgedOnline(server.client, load);
  server.client.close();
  // SIGTERM: the server drains its outbox before it exits.
  await server.process.stop('SIGTERM');
  expect(server.process.output()).toContain('shutting down');
  console.log(`embedded kill: at the kill ${JSON.stringify(killedAt)}`);
  assertExactlyOnce('embedded kill -9', load, await offlineRowsPerUserIn(join(dir, 'offline')), presentOnline);
}, 180_000);
