/**
 * A cluster-mode deployment without a ClickHouse server: `tessera offline-server` owns the one chDB
 * data directory, checks the deployment's API keys (in the Redis Cluster, admin scope), and a
 * feature server and a writer use it through --offline-server. A Write acknowledged by the server
 * is inserted by the writer into the offline server's chDB, and GetHistorical through the feature
 * server returns it. Real processes, real Redis Cluster, real chDB.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, inject, it } from 'vitest';
import { fromColumn, toColumn } from '@tessera/client';
import { WriteTarget } from '@tessera/proto';
import type { GetHistoricalResponse } from '@tessera/proto';
import {
  REPO_ROOT,
  definitionsFromYaml,
  pollUntil,
  startOfflineServerCli,
  startServeProcess,
  startWriterCli,
  type CliProcess,
} from '@tessera/testkit';
import { healthProbe } from '../support/health-client.js';

const { nodes } = inject('redisCluster');
const keyPrefix = `offsrv${randomBytes(4).toString('hex')}:`;
const list = nodes.map((n) => `${n.host}:${n.port}`).join(',');
const dir = mkdtempSync(join(tmpdir(), 'tessera-offline-server-e2e-'));
const processes: CliProcess[] = [];
const run = promisify(execFile);

afterAll(async () => {
  for (const p of processes.reverse()) await p.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

const REPO = definitionsFromYaml({
  'repo.yaml': `
project: offsrv
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: spend
    entities: [customer]
    features:
      - { name: total, type: double }
`,
});

it('serves training sets from the offline server that the writer inserted into', async () => {
  const { stdout: token } = await run(
    'node',
    [
      join(REPO_ROOT, 'packages/cli/bin/tessera.js'),
      'keys',
      'create',
      'offline-caller',
      '--scopes',
      'admin',
      '--redis-cluster',
      list,
      '--key-prefix',
      keyPrefix,
    ],
    { cwd: REPO_ROOT },
  );
  const env = { TESSERA_OFFLINE_API_KEY: token.trim() };
  const offline = await startOfflineServerCli(join(dir, 'offline'), [
    '--auth',
    '--redis-cluster',
    list,
    '--key-prefix',
    keyPrefix,
  ]);
  processes.push(offline.process);
  expect(offline.port).toBeGreaterThan(0);
  // Probes need no key.
  const health = healthProbe(offline.address);
  expect([await health.check(''), await health.check('tessera.offline')]).toEqual(['SERVING', 'SERVING']);
  health.close();

  const cluster = ['--redis-cluster', list, '--key-prefix', keyPrefix, '--offline-server', offline.address];
  const { process: serve, client } = await startServeProcess(cluster, env);
  processes.push(serve);
  const writer = await startWriterCli(
    nodes,
    keyPrefix,
    join(dir, 'unused'),
    ['--offline-server', offline.address],
    env,
  );
  processes.push(writer);
  expect(writer.output()).toContain(`into the offline server ${offline.address}`);
  try {
    await client.apply(REPO);
    const at = Date.now() - 60_000;
    // Write-behind: acknowledged once queued; the writer inserts it through the offline server.
    await client.write({
      featureView: 'spend',
      target: WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE,
      columns: { customer_id: toColumn('int64', [42n]), total: toColumn('double', [12.5]) },
      eventTimestamps: toColumn('timestamp', [at]),
    });
    const totalAt = async (): Promise<unknown[]> => {
      const chunks: GetHistoricalResponse[] = [];
      for await (const chunk of client.getHistorical({
        entities: {
          $case: 'rows',
          value: {
            keys: { customer_id: toColumn('int64', [42n]) },
            eventTimestamps: [BigInt(at + 1)],
            passthrough: {},
          },
        },
        features: ['spend:total'],
        featureService: '',
        chunkRows: 0,
        format: 0,
      })) {
        chunks.push(chunk);
      }
      return chunks.flatMap((c) => {
        const i = c.names.indexOf('spend__total');
        return i < 0 ? [] : fromColumn(c.columns[i]!);
      });
    };
    expect(await pollUntil(async () => (await totalAt())[0] === 12.5, 30_000, 200)).toBe(true);
  } finally {
    client.close();
  }
  // SIGTERM: the offline server drains and exits cleanly.
  await writer.stop('SIGTERM');
  await serve.stop('SIGTERM');
  await offline.process.stop('SIGTERM');
  expect(offline.process.child.exitCode).toBe(0);
  expect(offline.process.output()).toContain('tessera: shutting down');
});
