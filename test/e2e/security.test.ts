import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ApiKeyStore, Scope } from '@tessera/core';
import { silentLogger } from '@tessera/core';
import { collectingLogger } from '../support/logs.js';
import { TesseraClient, toColumn, toProtoDefinitions, toProtoScope } from '@tessera/client';
import { createKey } from '@tessera/registry';
import {
  METHOD_SCOPES,
  openApiKeyStore,
  startFeatureServer,
  type BackendOptions,
  type FeatureServer,
} from '@tessera/feature-server';
import type { WriteRequest } from '@tessera/proto';
import {
  type CliProcess,
  definitionsFromYaml,
  makeTestCertificates,
  pollUntil,
  REPO_ROOT,
  startCli,
  type TestCertificates,
} from '@tessera/testkit';
import { freshBackend } from '../support/server.js';

// Who may do what: API keys and scopes on every RPC, revocation across processes, TLS and mTLS,
// and the defaults that keep a server from being exposed by accident. Real servers, real stores.

const { nodes } = inject('redisCluster');
const execFileAsync = promisify(execFile);
const CLI = join(REPO_ROOT, 'packages', 'cli', 'bin', 'tessera.js');

const REPO_YAML = `
project: security
entities:
  - { name: user, join_keys: [{ name: user_id, type: int64 }] }
feature_views:
  - name: scores
    entities: [user]
    features: [{ name: score, type: double }]
`;
const REPO = definitionsFromYaml({ 'repo.yaml': REPO_YAML });

const writeRequest = (score: number): WriteRequest => ({
  featureView: 'scores',
  columns: { user_id: toColumn('int64', [1n]), score: toColumn('double', [score]) },
  eventTimestamps: toColumn('timestamp', [Date.now() - 60_000 + score]),
  target: 0,
  durability: 0,
  idempotencyKey: '',
});

type Call = (c: TesseraClient) => Promise<status>;

/** Status code of a unary call (0 = OK). */
function unaryCode(start: (done: (error: ServiceError | null) => void) => void): Promise<status> {
  return new Promise((resolve) => start((error) => resolve(error ? error.code : status.OK)));
}

/** Status code of a server-streaming call once it ends. */
function streamCode(stream: NodeJS.EventEmitter): Promise<status> {
  return new Promise((resolve) => {
    stream.on('data', () => undefined);
    stream.once('error', (error: ServiceError) => resolve(error.code));
    stream.once('end', () => resolve(status.OK));
  });
}

const deadline = () => ({ deadline: Date.now() + 10_000 });

/** One call per RPC of the three services, each a request that would succeed with the right scope. */
const CALLS: Record<string, Call> = {
  '/tessera.v1.FeatureStore/GetOnlineFeatures': (c) =>
    unaryCode((done) =>
      c.featureStore.getOnlineFeatures(
        {
          features: ['scores:score'],
          featureService: '',
          entities: { user_id: toColumn('int64', [1n]) },
          includeEventTimestamps: false,
        },
        new Metadata(),
        deadline(),
        done,
      ),
    ),
  '/tessera.v1.FeatureStore/GetHistorical': (c) =>
    streamCode(
      c.featureStore.getHistorical(
        {
          entities: {
            $case: 'rows',
            value: {
              keys: { user_id: toColumn('int64', [1n]) },
              eventTimestamps: [BigInt(Date.now())],
              passthrough: {},
            },
          },
          features: ['scores:score'],
          featureService: '',
          format: 0,
          chunkRows: 0,
        },
        new Metadata(),
        deadline(),
      ),
    ),
  '/tessera.v1.FeatureStore/Write': (c) =>
    unaryCode((done) => c.featureStore.write(writeRequest(1), new Metadata(), deadline(), done)),
  '/tessera.v1.FeatureStore/WriteStream': (c) =>
    unaryCode((done) => {
      const stream = c.featureStore.writeStream(new Metadata(), deadline(), done);
      stream.write(writeRequest(2));
      stream.end();
    }),
  '/tessera.v1.FeatureStore/Materialize': (c) =>
    streamCode(
      c.featureStore.materialize(
        {
          featureViews: ['scores'],
          startTime: 0n,
          endTime: BigInt(Date.now()),
          incremental: false,
          aggregations: false,
        },
        new Metadata(),
        deadline(),
      ),
    ),
  '/tessera.v1.Registry/Apply': (c) =>
    unaryCode((done) =>
      c.registry.apply(
        { definitions: toProtoDefinitions(REPO), dryRun: false, author: 'someone else', prune: false },
        new Metadata(),
        deadline(),
        done,
      ),
    ),
  '/tessera.v1.Registry/Get': (c) =>
    unaryCode((done) =>
      c.registry.get({ objectType: 'feature_view', name: 'scores' }, new Metadata(), deadline(), done),
    ),
  '/tessera.v1.Registry/List': (c) => unaryCode((done) => c.registry.list({}, new Metadata(), deadline(), done)),
  '/tessera.v1.Registry/History': (c) =>
    unaryCode((done) => c.registry.history({ featureView: 'scores' }, new Metadata(), deadline(), done)),
  '/tessera.v1.Operations/GetWriteBehindStats': (c) =>
    unaryCode((done) => c.operations.getWriteBehindStats({}, new Metadata(), deadline(), done)),
  '/tessera.v1.Operations/ListDeadLetters': (c) =>
    unaryCode((done) => c.operations.listDeadLetters({ limit: 10 }, new Metadata(), deadline(), done)),
  // No dead letter has this id: NOT_FOUND is the answer an authorised caller gets.
  '/tessera.v1.Operations/GetDeadLetter': (c) =>
    unaryCode((done) => c.operations.getDeadLetter({ id: 'none' }, new Metadata(), deadline(), done)),
  '/tessera.v1.Operations/ReplayDeadLetter': (c) =>
    unaryCode((done) => c.operations.replayDeadLetter({ id: 'none' }, new Metadata(), deadline(), done)),
  '/tessera.v1.Operations/DropDeadLetter': (c) =>
    unaryCode((done) => c.operations.dropDeadLetter({ id: 'none' }, new Metadata(), deadline(), done)),
  '/tessera.v1.Operations/CreateApiKey': (c) =>
    unaryCode((done) =>
      c.operations.createApiKey(
        { name: `made-${randomBytes(3).toString('hex')}`, scopes: [toProtoScope('read')] },
        new Metadata(),
        deadline(),
        done,
      ),
    ),
  '/tessera.v1.Operations/ListApiKeys': (c) =>
    unaryCode((done) => c.operations.listApiKeys({ includeRevoked: true }, new Metadata(), deadline(), done)),
  // No key has this name: NOT_FOUND for an authorised caller, and nothing to rotate or revoke by mistake.
  '/tessera.v1.Operations/RotateApiKey': (c) =>
    unaryCode((done) => c.operations.rotateApiKey({ name: 'nobody' }, new Metadata(), deadline(), done)),
  '/tessera.v1.Operations/RevokeApiKey': (c) =>
    unaryCode((done) => c.operations.revokeApiKey({ name: 'nobody' }, new Metadata(), deadline(), done)),
};

describe('API keys and scopes', () => {
  let server: FeatureServer;
  let cleanup: () => void;
  const tokens = new Map<Scope, string>();
  const clients: TesseraClient[] = [];
  const clientFor = (apiKey?: string): TesseraClient => {
    const c = new TesseraClient({ address: server.address, timeoutMillis: 10_000, ...(apiKey ? { apiKey } : {}) });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    // Embedded: every RPC has its store here (training sets and Materialize need the offline one).
    const fresh = freshBackend('embedded', nodes);
    cleanup = fresh.cleanup;
    server = await startFeatureServer({
      port: 0,
      backend: fresh.backend,
      auth: { refreshIntervalMillis: 100 },
      logger: silentLogger,
    });
    await server.apply(REPO, { author: 'setup' });
    for (const scope of ['read', 'write', 'admin'] as const) {
      tokens.set(scope, (await createKey(server.apiKeys, `key-${scope}`, [scope])).token);
    }
    // The server sees keys made beside it at its next refresh.
    const reader = clientFor(tokens.get('read'));
    expect(await pollUntil(async () => (await CALLS['/tessera.v1.Registry/List']!(reader)) === status.OK, 5_000)).toBe(
      true,
    );
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await server.close();
    cleanup();
  });

  it('names a scope for every RPC the server offers', () => {
    for (const path of Object.keys(CALLS)) expect(METHOD_SCOPES[path], path).toMatch(/^(read|write|admin)$/);
    expect(Object.keys(CALLS)).toHaveLength(
      Object.keys(METHOD_SCOPES).filter((p) => p.startsWith('/tessera.v1.')).length,
    );
  });

  it('refuses every RPC without a key, or with a malformed or unknown one, as UNAUTHENTICATED', async () => {
    for (const apiKey of [undefined, 'not-a-key', `tsk_${'0'.repeat(16)}_${'A'.repeat(43)}`]) {
      const c = clientFor(apiKey);
      for (const [path, call] of Object.entries(CALLS)) {
        expect(await call(c), `${path} with ${apiKey ?? 'no key'}`).toBe(status.UNAUTHENTICATED);
      }
    }
  });

  it('answers each RPC for a key holding its scope, and PERMISSION_DENIED changing nothing for the others', async () => {
    const before = {
      registry: (await clientFor(tokens.get('admin')).list()).registryVersion,
      keys: (await clientFor(tokens.get('admin')).listApiKeys(true)).keys.length,
      value: await clientFor(tokens.get('read')).getOnlineFeatures({
        features: ['scores:score'],
        entities: { user_id: [1n] },
      }),
    };
    const denied: string[] = [];
    for (const scope of ['read', 'write'] as const) {
      const c = clientFor(tokens.get(scope));
      for (const [path, call] of Object.entries(CALLS)) {
        const required = METHOD_SCOPES[path];
        if (required === scope) continue;
        expect(await call(c), `${path} with a ${scope} key`).toBe(status.PERMISSION_DENIED);
        denied.push(path);
      }
    }
    expect(denied).toContain('/tessera.v1.Registry/Apply');
    expect(denied).toContain('/tessera.v1.FeatureStore/Write');
    // Nothing a refused call would have changed did change.
    expect((await clientFor(tokens.get('admin')).list()).registryVersion).toBe(before.registry);
    expect((await clientFor(tokens.get('admin')).listApiKeys(true)).keys).toHaveLength(before.keys);
    expect(
      await clientFor(tokens.get('read')).getOnlineFeatures({
        features: ['scores:score'],
        entities: { user_id: [1n] },
      }),
    ).toEqual(before.value);

    for (const [path, call] of Object.entries(CALLS)) {
      const required = METHOD_SCOPES[path] as Scope;
      const code = await call(clientFor(tokens.get(required)));
      expect([status.OK, status.NOT_FOUND], `${path} with a ${required} key`).toContain(code);
      // admin includes every other scope.
      expect([status.OK, status.NOT_FOUND], `${path} with the admin key`).toContain(
        await call(clientFor(tokens.get('admin'))),
      );
    }
  });

  it('records the key name as the author of an apply, whatever the request claims', async () => {
    const changed = definitionsFromYaml({
      'repo.yaml': REPO_YAML.replace(
        '    entities: [user]\n',
        '    entities: [user]\n    description: now with a description\n',
      ),
    });
    const code = await unaryCode((done) =>
      clientFor(tokens.get('admin')).registry.apply(
        { definitions: toProtoDefinitions(changed), dryRun: false, author: 'someone else', prune: false },
        new Metadata(),
        deadline(),
        done,
      ),
    );
    expect(code).toBe(status.OK);
    const [version] = (await clientFor(tokens.get('read')).history('scores')).versions;
    expect(version?.author).toBe('setup');
    const changes = version?.changes.join('\n') ?? '';
    expect(changes).toMatch(/update by key-admin at/);
    expect(changes).not.toContain('someone else');
  });

  it('refuses ad-hoc entity SQL to a read key and lets an admin key through', async () => {
    const call = (apiKey: string | undefined) =>
      streamCode(
        clientFor(apiKey).featureStore.getHistorical(
          {
            entities: { $case: 'entitySql', value: 'SELECT toInt64(1) AS user_id, now64(3) AS event_ts' },
            features: ['scores:score'],
            featureService: '',
            format: 0,
            chunkRows: 0,
          },
          new Metadata(),
          deadline(),
        ),
      );
    expect(await call(tokens.get('read'))).toBe(status.PERMISSION_DENIED);
    expect(await call(tokens.get('admin'))).toBe(status.OK);
  });

  it('ignores principal headers a client sends to claim an identity', async () => {
    const spoof = new Metadata();
    spoof.set('tessera-principal-name', 'key-admin');
    spoof.set('tessera-principal-scopes', 'admin');
    const code = await unaryCode((done) =>
      clientFor(tokens.get('read')).registry.apply(
        { definitions: toProtoDefinitions(REPO), dryRun: false, author: '', prune: true },
        spoof,
        deadline(),
        done,
      ),
    );
    expect(code).toBe(status.PERMISSION_DENIED);
  });

  it('answers RESOURCE_EXHAUSTED once a key spends its rate limit', async () => {
    const fresh = freshBackend('redis-cluster', nodes);
    const { token } = await withKeyStore(fresh.backend, (store) => createKey(store, 'busy', ['read']));
    const limited = await startFeatureServer({
      port: 0,
      backend: fresh.backend,
      auth: { rateLimit: { requestsPerSecond: 0.5, burst: 3 } },
      logger: silentLogger,
    });
    try {
      const c = new TesseraClient({ address: limited.address, apiKey: token });
      clients.push(c);
      const codes: number[] = [];
      for (let i = 0; i < 5; i += 1) codes.push(await CALLS['/tessera.v1.Registry/List']!(c));
      expect(codes.slice(0, 3)).toEqual([status.OK, status.OK, status.OK]);
      expect(codes.slice(3)).toEqual([status.RESOURCE_EXHAUSTED, status.RESOURCE_EXHAUSTED]);
    } finally {
      await limited.close();
    }
  });
});

async function withKeyStore<T>(backend: BackendOptions, work: (store: ApiKeyStore) => Promise<T>): Promise<T> {
  const store = openApiKeyStore(backend);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

async function tessera(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('node', [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, TESSERA_API_KEY: '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('revocation', () => {
  it('reaches a second server process within 5 s, without a restart', async () => {
    const keyPrefix = `sec${randomBytes(4).toString('hex')}:`;
    const nodeList = nodes.map((n) => `${n.host}:${n.port}`).join(',');
    // The first admin key goes straight into the deployment's store: no server needed.
    const created = await tessera([
      'keys',
      'create',
      'ops',
      '--scopes',
      'admin',
      '--redis-cluster',
      nodeList,
      '--key-prefix',
      keyPrefix,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const adminToken = created.stdout.trim();
    expect(adminToken).toMatch(/^tsk_[0-9a-f]{16}_/);
    expect(created.stderr).toMatch(/shown once/);

    const first = await startFeatureServer({
      port: 0,
      backend: { kind: 'redis-cluster', nodes, keyPrefix },
      auth: true,
      logger: silentLogger,
    });
    let second: CliProcess | undefined;
    const clients: TesseraClient[] = [];
    try {
      second = startCli(['serve', '--port', '0', '--redis-cluster', nodeList, '--key-prefix', keyPrefix, '--auth']);
      const [, address] = await second.waitFor(/serving on (\S+)/);
      const viaFirst = new TesseraClient({ address: first.address, apiKey: adminToken });
      clients.push(viaFirst);
      const reader = await viaFirst.createApiKey('reader', ['read']);
      const onSecond = new TesseraClient({ address: address ?? '', apiKey: reader.token, timeoutMillis: 5_000 });
      clients.push(onSecond);
      const list = CALLS['/tessera.v1.Registry/List']!;
      expect(await pollUntil(async () => (await list(onSecond)) === status.OK, 5_000)).toBe(true);

      // Revoked through the first server, refused by the second.
      const revoked = await tessera(['--server', first.address, 'keys', 'revoke', 'reader'], {
        TESSERA_API_KEY: adminToken,
      });
      expect(revoked.code, revoked.stderr).toBe(0);
      // Refused within the key cache's refresh bound (pollUntil gives up after 5 s).
      expect(await pollUntil(async () => (await list(onSecond)) === status.UNAUTHENTICATED, 5_000, 20)).toBe(true);
      // And it stays refused.
      expect(await list(onSecond)).toBe(status.UNAUTHENTICATED);

      const listed = await tessera(['--server', first.address, 'keys', 'ls', '--all'], { TESSERA_API_KEY: adminToken });
      expect(listed.stdout).toMatch(/reader\s+[0-9a-f]{16}\s+read\s+\S+\s+\d{4}-/);
      expect(listed.stdout).not.toMatch(/tsk_/);
    } finally {
      for (const c of clients) c.close();
      await second?.stop('SIGTERM');
      await first.close();
    }
  });
});

describe('TLS', () => {
  let certs: TestCertificates;
  let server: FeatureServer;
  let mtls: FeatureServer;
  let token: string;
  const dirs: string[] = [];

  beforeAll(async () => {
    certs = makeTestCertificates();
    const backend = freshBackend('redis-cluster', nodes).backend;
    token = (await withKeyStore(backend, (store) => createKey(store, 'tls-reader', ['read']))).token;
    const tls = { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile };
    server = await startFeatureServer({ port: 0, backend, auth: true, tls, localPort: 0, logger: silentLogger });
    mtls = await startFeatureServer({
      port: 0,
      backend: freshBackend('redis-cluster', nodes).backend,
      tls: { ...tls, clientCaFile: certs.caFile },
      logger: silentLogger,
    });
  });

  afterAll(async () => {
    await server.close();
    await mtls.close();
    certs[Symbol.dispose]();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const listCode = async (options: Partial<ConstructorParameters<typeof TesseraClient>[0]>, address: string) => {
    const c = new TesseraClient({ address, timeoutMillis: 3_000, ...options });
    try {
      return await CALLS['/tessera.v1.Registry/List']!(c);
    } finally {
      c.close();
    }
  };

  it('serves a client that trusts its CA, and no client that does not', async () => {
    expect(await listCode({ apiKey: token, tls: { caFile: certs.caFile } }, server.address)).toBe(status.OK);
    expect(await listCode({ apiKey: token, tls: { caFile: certs.otherCaFile } }, server.address)).toBe(
      status.UNAVAILABLE,
    );
    // Plaintext against a TLS port fails too.
    expect(await listCode({ apiKey: token }, server.address)).toBe(status.UNAVAILABLE);
  });

  it('serves this host on the local listener in plaintext without a key, while its TLS port still demands one', async () => {
    const local = server.localAddress;
    expect(local).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await listCode({}, local!)).toBe(status.OK);
    expect(await listCode({ tls: { caFile: certs.caFile } }, server.address)).toBe(status.UNAUTHENTICATED);
    // TLS on the local listener fails: it is plaintext only.
    expect(await listCode({ tls: { caFile: certs.caFile } }, local!)).toBe(status.UNAVAILABLE);
  });

  it('fails to start, leaving nothing open, when the local port is taken', async () => {
    const taken = Number(server.localAddress!.split(':')[1]);
    const fresh = freshBackend('redis-cluster', nodes).backend;
    await expect(
      startFeatureServer({ port: 0, backend: fresh, localPort: taken, logger: silentLogger }),
    ).rejects.toThrow(`cannot listen on 127.0.0.1:${taken}`);
    // The same storage starts again at once: the failed start released what it had opened.
    const again = await startFeatureServer({ port: 0, backend: fresh, localPort: 0, logger: silentLogger });
    await again.close();
  });

  it('with mTLS, refuses a client without a certificate and serves one with a certificate from its CA', async () => {
    expect(await listCode({ tls: { caFile: certs.caFile } }, mtls.address)).toBe(status.UNAVAILABLE);
    expect(
      await listCode(
        { tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile } },
        mtls.address,
      ),
    ).toBe(status.OK);
  });

  it('the CLI talks TLS with --ca-file and reads its key from --api-key-file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-key-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'key'), `${token}\n`, { mode: 0o600 });
    const ok = await tessera([
      '--server',
      server.address,
      '--ca-file',
      certs.caFile,
      '--api-key-file',
      join(dir, 'key'),
      'ls',
      'views',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const wrongCa = await tessera([
      '--server',
      server.address,
      '--ca-file',
      certs.otherCaFile,
      '--api-key-file',
      join(dir, 'key'),
      '--timeout',
      '3000',
      'ls',
      'views',
    ]);
    expect(wrongCa.code).toBe(1);
    expect(wrongCa.stderr).toMatch(/UNAVAILABLE/);
  });

  it('reloads certificate files that change, without a restart', async () => {
    using next = makeTestCertificates();
    const dir = mkdtempSync(join(tmpdir(), 'tessera-rotate-'));
    dirs.push(dir);
    const certFile = join(dir, 'server.pem');
    const keyFile = join(dir, 'server.key');
    copyFileSync(certs.serverCertFile, certFile);
    copyFileSync(certs.serverKeyFile, keyFile);
    const rotating = await startFeatureServer({
      port: 0,
      backend: freshBackend('redis-cluster', nodes).backend,
      tls: { certFile, keyFile, reloadIntervalMillis: 50 },
      logger: silentLogger,
    });
    try {
      expect(await listCode({ tls: { caFile: certs.caFile } }, rotating.address)).toBe(status.OK);
      // A certificate from another CA replaces the first (key first: a half-done rotation is skipped).
      copyFileSync(next.serverKeyFile, keyFile);
      copyFileSync(next.serverCertFile, certFile);
      const rotated = await pollUntil(
        async () => (await listCode({ tls: { caFile: next.caFile } }, rotating.address)) === status.OK,
        5_000,
      );
      expect(rotated).toBe(true);
      expect(await listCode({ tls: { caFile: certs.caFile } }, rotating.address)).toBe(status.UNAVAILABLE);
    } finally {
      await rotating.close();
    }
  });

  it('refuses to start with a certificate file it cannot read, naming it', async () => {
    await expect(
      startFeatureServer({
        port: 0,
        backend: freshBackend('redis-cluster', nodes).backend,
        tls: { certFile: join(certs.dir, 'missing.pem'), keyFile: certs.serverKeyFile },
      }),
    ).rejects.toThrow(/TLS certificate file .*missing\.pem/);
  });
});

describe('safe defaults', () => {
  it('refuses a non-loopback address without auth and TLS, naming the flags', async () => {
    for (const options of [{}, { auth: true }] as const) {
      await expect(
        startFeatureServer({
          host: '0.0.0.0',
          port: 0,
          backend: freshBackend('redis-cluster', nodes).backend,
          ...options,
        }),
      ).rejects.toThrow(/refusing to serve 0\.0\.0\.0 without .*(--auth|--tls-cert).*--insecure/);
    }
    const cli = await tessera([
      'serve',
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--redis-cluster',
      `${nodes[0]!.host}:${nodes[0]!.port}`,
    ]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/refusing to serve 0\.0\.0\.0 without authentication \(--auth\) and TLS/);
  });

  it('with --insecure, serves a non-loopback address and warns on start', async () => {
    const { logger, lines } = collectingLogger();
    const server = await startFeatureServer({
      host: '0.0.0.0',
      port: 0,
      backend: freshBackend('redis-cluster', nodes).backend,
      insecure: true,
      logger,
    });
    try {
      const warnings = lines.filter((line) => line.level === 'warn').map((line) => line.message);
      expect(warnings.join('\n')).toMatch(/WARNING --insecure: serving 0\.0\.0\.0 without authentication or TLS/);
    } finally {
      await server.close();
    }
  });

  it('keeps the data directory to its owner: directory 0700, files 0600', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'tessera-perm-')), 'data');
    const serve = startCli(['serve', '--port', '0', '--data-dir', dataDir]);
    try {
      await serve.waitFor(/serving on/);
    } finally {
      await serve.stop('SIGTERM');
    }
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const files = listFiles(dataDir);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(statSync(file).mode & 0o077, file).toBe(0);
    rmSync(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('refuses a ClickHouse password on the command line and names the environment variable', async () => {
    const result = await tessera(['serve', '--port', '0', '--clickhouse-url', 'http://default:s3cret@127.0.0.1:1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--clickhouse-url carries a password.*TESSERA_CLICKHOUSE_URL/);
    expect(result.stderr).not.toContain('s3cret');
  });
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

describe("README's key management transcript", () => {
  it('runs as printed against a server with --auth and TLS on a Redis Cluster', async () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('**Key management.**'), readme.indexOf('**TLS.**'));
    const commands = [...section.matchAll(/^\$ (.+)$/gm)].map((m) => (m[1] ?? '').replace(/\s+#.*$/, ''));
    expect(commands.length).toBeGreaterThanOrEqual(5);
    using certs = makeTestCertificates();
    // The README's deployment has no key prefix: this is the one test that uses the cluster without one.
    const server = await startFeatureServer({
      port: 0,
      backend: { kind: 'redis-cluster', nodes },
      auth: { refreshIntervalMillis: 100 },
      tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile },
      logger: silentLogger,
    });
    const cwd = mkdtempSync(join(tmpdir(), 'tessera-readme-keys-'));
    try {
      const script = commands
        .map((c) =>
          c
            .replaceAll('npx tessera', `node ${CLI}`)
            .replaceAll('10.0.0.5:7000', nodes.map((n) => `${n.host}:${n.port}`).join(','))
            .replaceAll('10.0.0.5:6566', server.address)
            .replaceAll('ca.pem', certs.caFile),
        )
        // The key created just before reaches the server at its next refresh.
        .join(' && sleep 0.3 && ');
      const { stdout } = await execFileAsync('bash', ['-ec', script], {
        cwd,
        env: { ...process.env, TESSERA_API_KEY: '' },
      });
      expect(readFileSync(join(cwd, 'trainer.key'), 'utf8')).toMatch(/^tsk_[0-9a-f]{16}_/);
      expect(stdout).toMatch(/trainer\s+[0-9a-f]{16}\s+read/);
      expect(stdout).toMatch(/revoked API key "trainer"/);
      const active = (await server.apiKeys.list()).filter((k) => k.revokedAtMillis === undefined).map((k) => k.name);
      expect(active).toEqual(['ops']);
    } finally {
      await server.close();
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
