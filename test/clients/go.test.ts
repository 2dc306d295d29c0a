/**
 * The Go client (clients/go) against a real server: builds the pinned protoc plugins, generates the
 * stubs (`go generate`, as clients/go/README.md says), starts `tessera serve` with TLS and API keys on
 * the test Redis Cluster (fresh key prefix) with a chDB offline server, applies the Go tests' repository
 * and runs `go test ./...` with the server's address and keys in the environment.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { TesseraClient } from '@tessera/client';
import {
  REPO_ROOT,
  definitionsFromYaml,
  findGo,
  makeTestCertificates,
  startOfflineServerCli,
  startServeProcess,
  type CliProcess,
  type TestCertificates,
} from '@tessera/testkit';

const run = promisify(execFile);
const { nodes } = inject('redisCluster');
const nodeList = nodes.map((n) => `${n.host}:${n.port}`).join(',');
const keyPrefix = `goclient${randomBytes(4).toString('hex')}:`;
const MODULE_DIR = join(REPO_ROOT, 'clients', 'go');
const CLI = join(REPO_ROOT, 'packages', 'cli', 'bin', 'tessera.js');
/** First run builds two protoc plugins and compiles grpc-go and arrow-go: minutes on two shared cores. */
const BUILD_TIMEOUT_MILLIS = 600_000;

const dir = mkdtempSync(join(tmpdir(), 'tessera-go-client-'));
const processes: CliProcess[] = [];
let certs: TestCertificates;
let address = '';
const keys = { admin: '', readWrite: '', read: '' };

/** `tessera keys create <name> --scopes <scopes>` on the cluster, as an operator makes keys (no server). */
async function createKey(name: string, scopes: string): Promise<string> {
  const { stdout } = await run(
    'node',
    [CLI, 'keys', 'create', name, '--scopes', scopes, '--redis-cluster', nodeList, '--key-prefix', keyPrefix],
    { cwd: REPO_ROOT, timeout: 60_000 },
  );
  return stdout.trim();
}

beforeAll(async () => {
  const go = findGo();
  if (go === undefined) throw new Error('the Go client tests need Go (https://go.dev/doc/install)');
  // Stubs first (they are not committed): the documented `go generate` path.
  await run(go, ['generate', './...'], { cwd: MODULE_DIR, timeout: BUILD_TIMEOUT_MILLIS });

  certs = makeTestCertificates();
  [keys.admin, keys.readWrite, keys.read] = await Promise.all([
    createKey('go-admin', 'admin'),
    createKey('go-tests', 'read,write'),
    createKey('go-reader', 'read'),
  ]);
  const offline = await startOfflineServerCli(join(dir, 'offline'));
  processes.push(offline.process);
  const serve = await startServeProcess([
    '--redis-cluster',
    nodeList,
    '--key-prefix',
    keyPrefix,
    '--offline-server',
    offline.address,
    '--auth',
    '--tls-cert',
    certs.serverCertFile,
    '--tls-key',
    certs.serverKeyFile,
  ]);
  processes.push(serve.process);
  serve.client.close();
  const [, served = ''] = await serve.process.waitFor(/serving on (\S+)/);
  address = served;

  const admin = new TesseraClient({
    address,
    apiKey: keys.admin,
    tls: { caFile: certs.caFile },
    timeoutMillis: 20_000,
  });
  try {
    await admin.apply(
      definitionsFromYaml({ 'repo.yaml': readFileSync(join(MODULE_DIR, 'testdata', 'repo.yaml'), 'utf8') }),
    );
  } finally {
    admin.close();
  }
}, BUILD_TIMEOUT_MILLIS);

afterAll(async () => {
  for (const p of processes.reverse()) await p.stop('SIGTERM');
  certs[Symbol.dispose]();
  rmSync(dir, { recursive: true, force: true });
});

it(
  'passes go test ./... against a real server (online reads, writes, typed errors, training sets, auth)',
  async () => {
    const go = findGo() ?? 'go';
    const result = await run(go, ['test', '-count=1', '-v', './...'], {
      cwd: MODULE_DIR,
      timeout: BUILD_TIMEOUT_MILLIS,
      maxBuffer: 16 * 1024 * 1024,
      env: {
        ...process.env,
        TESSERA_TEST_ADDRESS: address,
        TESSERA_TEST_API_KEY: keys.readWrite,
        TESSERA_TEST_READ_KEY: keys.read,
        TESSERA_TEST_CA_FILE: certs.caFile,
        TESSERA_TEST_OTHER_CA_FILE: certs.otherCaFile,
      },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: typeof error.code === 'number' ? error.code : 1,
        output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
      }),
    );
    // The whole output on failure: which Go test failed and why.
    expect(result.code, result.output).toBe(0);
    // Every server test ran (none skipped for a missing environment variable).
    expect(result.output).not.toMatch(/--- SKIP/);
    for (const name of [
      'TestOnlineReadGivesValuesAndStatuses',
      'TestWriteThenReadBackKeepsTheNewerEventAndHonoursIdempotencyKeys',
      'TestBadWriteIsATypedErrorNamingTheColumn',
      'TestHistoricalValuesArePointInTime',
      'TestAuthFailuresAreTypedErrors',
    ]) {
      expect(result.output, result.output).toContain(`--- PASS: ${name}`);
    }
  },
  BUILD_TIMEOUT_MILLIS,
);
