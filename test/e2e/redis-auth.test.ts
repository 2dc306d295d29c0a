import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCluster, createRedisStandalone } from '@tessera/redis';
import { REPO_ROOT as ROOT, startCli, startPasswordCluster, type PasswordCluster } from '@tessera/testkit';

const execFileAsync = promisify(execFile);
const CLI = join(ROOT, 'packages', 'cli', 'bin', 'tessera.js');

/** A Redis Cluster with `requirepass`: the deployment's password must reach every client of every component. */
describe('a deployment on a password-protected Redis Cluster', () => {
  let cluster: PasswordCluster;
  let dir: string;
  let nodeList: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    cluster = await startPasswordCluster();
    dir = mkdtempSync(join(tmpdir(), 'tessera-redis-auth-'));
    nodeList = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    env = { TESSERA_BACKEND_REDIS_PASSWORD: cluster.password };
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is reached by the factory with the password, on every master', async () => {
    const client = createRedisCluster({ nodes: cluster.nodes, password: cluster.password });
    try {
      const keys = Array.from({ length: 24 }, (_, i) => `auth:${i}`);
      await Promise.all(keys.map((key) => client.set(key, key)));
      expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys);
      expect(client.nodes('master')).toHaveLength(3);
    } finally {
      await client.quit();
    }
  });

  it('refuses a client of one of its nodes without the password', async () => {
    const client = createRedisStandalone({
      mode: 'standalone',
      nodes: cluster.nodes.slice(0, 1),
      maxRetriesPerRequest: 0,
    });
    try {
      await expect(client.get('auth:0')).rejects.toThrow(/NOAUTH/);
    } finally {
      client.disconnect();
    }
  });

  it('serves, applies, writes and reads with the password from TESSERA_BACKEND_REDIS_PASSWORD; a writer consumes', async () => {
    const repo = join(dir, 'repo');
    mkdirSync(repo);
    writeFileSync(
      join(repo, 'defs.yaml'),
      [
        'project: auth',
        'entities:',
        '  - { name: user, join_keys: [{ name: user_id, type: int64 }] }',
        'feature_views:',
        '  - name: user_score',
        '    entities: [user]',
        '    features:',
        '      - { name: score, type: double }',
        '',
      ].join('\n'),
    );
    const rows = join(dir, 'rows.csv');
    writeFileSync(rows, 'user_id,event_ts,score\n1,2026-01-01T00:00:00Z,0.5\n');
    const serve = startCli(['serve', '--port', '0', '--redis-cluster', nodeList], env);
    const writer = startCli(['writer', '--redis-cluster', nodeList, '--data-dir', join(dir, 'writer')], env);
    try {
      const [, address] = await serve.waitFor(/serving on (\S+)/);
      const run = (...args: string[]) => execFileAsync('node', [CLI, '--server', address!, ...args], { cwd: ROOT });
      await run('apply', repo);
      await run('write', 'user_score', rows);
      const { stdout } = await run('get', 'user_score:score', '--entity', 'user_id=1', '--json');
      expect(JSON.parse(stdout)).toMatchObject([{ user_id: 1, 'user_score:score': 0.5 }]);
      await writer.waitFor(/writer consuming the write-behind queue of 127\.0\.0\.1:\d+/);
    } finally {
      await Promise.all([serve.stop('SIGTERM'), writer.stop('SIGTERM')]);
    }
  });

  it('keeps its API keys there: `tessera keys` on the store takes the password from the environment or --config', async () => {
    const keys = (args: readonly string[], childEnv: NodeJS.ProcessEnv) =>
      execFileAsync('node', [CLI, 'keys', ...args], {
        cwd: ROOT,
        timeout: 15_000,
        env: { ...process.env, ...childEnv },
      });
    const prefix = `keys${process.pid}:`;
    const created = await keys(
      ['create', 'ops', '--scopes', 'admin', '--redis-cluster', nodeList, '--key-prefix', prefix],
      env,
    );
    expect(created.stdout.trim()).toMatch(/^\S{20,}$/);

    // The same store through the services' configuration file (password in the file, for the test).
    const config = join(dir, 'keys.yaml');
    writeFileSync(
      config,
      [
        'backend:',
        '  kind: redis-cluster',
        `  redis: { nodes: [${cluster.nodes.map((n) => `{ host: "${n.host}", port: ${n.port} }`).join(', ')}], keyPrefix: "${prefix}", password: "${cluster.password}" }`,
        '',
      ].join('\n'),
    );
    const listed = await keys(['ls', '--config', config], {});
    expect(listed.stdout).toMatch(/\bops\b.*\badmin\b/);

    // Without the password the store never answers, and the command says so at its deadline instead of hanging.
    const refused = execFileAsync(
      'node',
      [CLI, '--timeout', '3000', 'keys', 'ls', '--redis-cluster', nodeList, '--key-prefix', prefix],
      { cwd: ROOT, timeout: 20_000 },
    );
    const failure = (await refused.then(
      () => undefined,
      (error: unknown) => error,
    )) as { code?: number; stderr?: string } | undefined;
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/UNAVAILABLE: the key store did not answer within 3000 ms: check .*password/);
  }, 60_000);
});
