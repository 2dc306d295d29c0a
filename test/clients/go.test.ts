/**
 * The Go client (clients/go) against a real server: builds the pinned protoc plugins, generates the
 * stubs (`go generate`, as clients/go/README.md says), starts `tessera serve` with mTLS and API keys on
 * the test Redis Cluster (fresh key prefix) with a chDB offline server, applies the Go tests' repository
 * and runs `go test ./...` with the server's address and keys in the environment; then runs the
 * README's example as printed against the example shop (`npm start`'s server, embedded).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TesseraClient } from '@tessera/client';
import {
  REPO_ROOT,
  definitionsFromYaml,
  makeTestCertificates,
  startOfflineServerCli,
  startServeProcess,
  type CliProcess,
  type TestCertificates,
} from '@tessera/testkit';
import { GO_CLIENT_DIR, generateGoStubs, goCommand as runGo, securedServeArgs } from '../support/client-builds.js';
import { startExampleShop } from '../support/example-shop.js';

const run = promisify(execFile);
const { nodes } = inject('redisCluster');
const nodeList = nodes.map((n) => `${n.host}:${n.port}`).join(',');
const keyPrefix = `goclient${randomBytes(4).toString('hex')}:`;
const MODULE_DIR = GO_CLIENT_DIR;
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
  // Stubs first (they are not committed): the documented `go generate` path.
  await generateGoStubs(BUILD_TIMEOUT_MILLIS);

  certs = makeTestCertificates();
  [keys.admin, keys.readWrite, keys.read] = await Promise.all([
    createKey('go-admin', 'admin'),
    createKey('go-tests', 'read,write'),
    createKey('go-reader', 'read'),
  ]);
  const offline = await startOfflineServerCli(join(dir, 'offline'));
  processes.push(offline.process);
  const serve = await startServeProcess(
    securedServeArgs({ nodeList, keyPrefix, offlineAddress: offline.address, certs }),
  );
  processes.push(serve.process);
  serve.client.close();
  const [, served = ''] = await serve.process.waitFor(/serving on (\S+)/);
  address = served;

  const admin = new TesseraClient({
    address,
    apiKey: keys.admin,
    tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
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

/** `go <args>` in clients/go: exit code, stdout and stdout+stderr, whatever the outcome. */
function goCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; output: string }> {
  return runGo(args, env, BUILD_TIMEOUT_MILLIS);
}

it(
  'passes go vet and go test ./... against a real server (online reads, writes, typed errors, training sets, auth)',
  async () => {
    const vet = await goCommand(['vet', './...']);
    expect(vet.code, vet.output).toBe(0);
    const result = await goCommand(['test', '-count=1', '-v', './...'], {
      TESSERA_TEST_ADDRESS: address,
      TESSERA_TEST_API_KEY: keys.readWrite,
      TESSERA_TEST_READ_KEY: keys.read,
      TESSERA_TEST_CA_FILE: certs.caFile,
      TESSERA_TEST_OTHER_CA_FILE: certs.otherCaFile,
      TESSERA_TEST_CLIENT_CERT: certs.clientCertFile,
      TESSERA_TEST_CLIENT_KEY: certs.clientKeyFile,
    });
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
      'TestRoundRobinOverAListOfAddressesAndDeadlines',
    ]) {
      expect(result.output, result.output).toContain(`--- PASS: ${name}`);
    }
  },
  BUILD_TIMEOUT_MILLIS,
);

describe('clients/go/README.md', () => {
  const readme = readFileSync(join(MODULE_DIR, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1] ?? '', body: m[2] ?? '' }));

  it('prints examples/online/main.go as it is', () => {
    const program = readFileSync(join(MODULE_DIR, 'examples', 'online', 'main.go'), 'utf8');
    expect(blocks.find((b) => b.lang === 'go')?.body).toBe(program);
  });

  it('runs the example against the example shop and prints what the README shows', async () => {
    const command = blocks.find((b) => b.lang === 'sh' && b.body.includes('go run'));
    const printed = blocks[blocks.indexOf(command!) + 1];
    expect(command?.body.trim()).toBe('cd clients/go && go generate ./... && go run ./examples/online');
    const shop = await startExampleShop(join(dir, 'shop'));
    processes.push(shop.process);
    const shopAddress = shop.address;
    const result = await goCommand(['run', './examples/online'], { TESSERA_SERVER: shopAddress });
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toBe(printed?.body);
  }, 120_000);
});
