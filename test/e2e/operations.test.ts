import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RegisteredView } from '@tessera/core';
import { OFFLINE_QUEUE, encodeOfflineJob, queuePrefix, type OfflineJobData } from '@tessera/writebehind';
import { startWriterProcess, type WriterProcess } from '@tessera/writer';
import { definitionsFromYaml, pollUntil, REPO_ROOT } from '@tessera/testkit';
import { startTestServer, type TestServer } from '../support/server.js';
import { EVENTS_REPO, EVENTS_YAML } from '../support/write-load.js';
import { toColumn } from '@tessera/client';
import { WriteTarget } from '@tessera/proto';

// Operating write-behind through the server: queue figures and dead letters over gRPC and with
// `tessera queue` / `tessera dlq`, on the real cluster, BullMQ and a writer with chDB.

const { nodes } = inject('redisCluster');
const keyPrefix = `ops${randomBytes(4).toString('hex')}:`;
const dir = mkdtempSync(join(tmpdir(), 'tessera-operations-'));
const execFileAsync = promisify(execFile);

/** A view the registry does not know yet: the writer cannot insert its jobs until it is applied. */
const LATER = `
  - name: events_later
    entities: [user]
    features: [{ name: amount, type: double }]
`;
const laterView: RegisteredView = {
  name: 'events_later',
  entities: ['user'],
  features: [
    {
      name: 'amount',
      type: 'double',
      dimension: 0,
      constraints: { notNull: false, allowNaN: true },
      description: '',
      tags: {},
    },
  ],
  ttlSeconds: 0,
  owner: '',
  tags: {},
  description: '',
  id: 99,
  version: 1,
  joinKeys: [{ name: 'user_id', type: 'int64' }],
  createdAtMillis: 0,
  updatedAtMillis: 0,
};

let t: TestServer;
let writer: WriterProcess;
let connection: Cluster;
let queue: Queue<OfflineJobData>;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(
      'node',
      ['packages/cli/bin/tessera.js', '--server', t.server.address, ...args],
      {
        cwd: REPO_ROOT,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  t = await startTestServer({ kind: 'redis-cluster', nodes, keyPrefix });
  await t.client.apply(EVENTS_REPO);
  writer = await startWriterProcess({ nodes, keyPrefix, dataDir: dir, lockMillis: 1_500 });
  connection = new Cluster(nodes.map(({ host, port }) => ({ host, port })));
  queue = new Queue<OfflineJobData>(OFFLINE_QUEUE, { connection, prefix: queuePrefix(keyPrefix) });
});

afterAll(async () => {
  await queue.close();
  await connection.quit();
  await writer.close();
  t.client.close();
  await t.server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('write-behind operations', () => {
  it('reports a job the writer cannot insert as a dead letter, replays it once fixed, and drops on demand', async () => {
    const job = encodeOfflineJob(laterView, [
      {
        batch: { joinKeyValues: [[1n], [2n]], eventTsMillis: Float64Array.of(1000, 2000), featureValues: [[0.5, 1.5]] },
        createdTsMicros: 1n,
      },
    ]);
    await queue.add('events_later@1', job, { jobId: randomUUID(), attempts: 1, removeOnFail: false });
    await queue.add('events_later@1', job, { jobId: randomUUID(), attempts: 1, removeOnFail: false });
    expect(await pollUntil(async () => (await t.client.writeBehindStats()).deadLetters === 2n, 20_000)).toBe(true);

    const letters = await t.client.listDeadLetters();
    expect(letters).toHaveLength(2);
    expect(letters[0]).toMatchObject({ featureView: 'events_later', version: 1, rowCount: 2n, attempts: 1 });
    expect(letters[0]?.error).toContain('events_later@1 is not in the registry');
    const [first, second] = letters.map((l) => l.id);

    const ls = await cli('dlq', 'ls');
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain(first);
    expect(ls.stdout).toContain('events_later@1');
    const show = await cli('dlq', 'show', first ?? '');
    expect(show.stdout).toMatch(/rows:\s+2/);
    expect(show.stdout).toContain('is not in the registry');

    // Once the view exists, the dead letter goes through.
    await t.client.apply(definitionsFromYaml({ 'repo.yaml': EVENTS_YAML + LATER }));
    expect((await cli('dlq', 'replay', first ?? '')).stdout).toContain(`replayed ${first}`);
    expect((await cli('dlq', 'drop', second ?? '')).stdout).toContain(`dropped ${second}`);
    expect(
      await pollUntil(async () => {
        const stats = await t.client.writeBehindStats();
        return stats.deadLetters === 0n && stats.pendingJobs === 0n;
      }, 20_000),
    ).toBe(true);
    const rows = await writer.clickhouse!.executor.queryJson<{ n: string }>(
      'SELECT toString(count()) AS n FROM tessera.fv_events_later__v1',
    );
    expect(rows[0]?.n).toBe('2');

    const queueOut = await cli('queue');
    expect(queueOut.stdout).toMatch(/pending jobs\s+0/);
    expect(queueOut.stdout).toMatch(/dead letters\s+0/);
  });

  it('materializes on the writers, as jobs split by key hash, never over fresher online values', async () => {
    const users = Array.from({ length: 40 }, (_, i) => BigInt(5_000 + i));
    await t.client.write({
      featureView: 'events',
      target: WriteTarget.WRITE_TARGET_OFFLINE,
      columns: {
        user_id: toColumn('int64', users),
        amount: toColumn(
          'double',
          users.map((u) => Number(u)),
        ),
      },
      eventTimestamps: toColumn(
        'timestamp',
        users.map(() => 1_000),
      ),
    });
    // One of them fresher online already.
    await t.client.write({
      featureView: 'events',
      target: WriteTarget.WRITE_TARGET_ONLINE,
      columns: { user_id: toColumn('int64', [5_000n]), amount: toColumn('double', [-1]) },
      eventTimestamps: toColumn('timestamp', [2_000]),
    });
    expect(await pollUntil(async () => (await t.client.writeBehindStats()).pendingJobs === 0n, 20_000)).toBe(true);
    const progress: bigint[] = [];
    const finals = await t.client.materialize({ featureViews: ['events'], startMillis: 0, endMillis: 10_000 }, (p) =>
      progress.push(p.rowsRead),
    );
    expect(finals).toEqual([
      { featureView: 'events@1', rowsRead: 40n, rowsWritten: 39n, done: true, partsDone: 0, parts: 0 },
    ]);
    const result = await t.client.getOnlineFeatures({ features: ['events:amount'], entities: { user_id: users } });
    expect(result.values[0]).toEqual([-1, ...users.slice(1).map(Number)]);
    const again = await t.client.materialize({ featureViews: ['events'], incremental: true });
    expect(again[0]).toMatchObject({ featureView: 'events@1', done: true });
  });

  it('answers NOT_FOUND naming the id for an unknown dead letter, and INVALID_ARGUMENT without one', async () => {
    const missing = await cli('dlq', 'drop', 'no-such-letter');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('NOT_FOUND');
    expect(missing.stderr).toContain('no-such-letter');
    await expect(t.client.replayDeadLetter('no-such-letter')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.client.getDeadLetter('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
