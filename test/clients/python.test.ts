/**
 * The Python client (clients/python) built from this checkout (test/support/client-builds.ts: once per
 * change of its sources or proto/, beside a cached venv of its pinned dependencies, whose versions its
 * declared ranges must accept) and its pytest suite run against a real `tessera serve`: Redis Cluster online store, chDB offline through a
 * `tessera offline-server`, tests/repo applied. One server, two listeners: a TLS port that requires
 * client certificates and API keys (the suite gets the CA, a client certificate and a read-scope
 * key) and a loopback plaintext one.
 * The README's example runs as printed against a server started like `npm start`.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import {
  type CliProcess,
  makeTestCertificates,
  REPO_ROOT,
  startCli,
  startOfflineServerCli,
  type TestCertificates,
} from '@tessera/testkit';
import { EXAMPLE_SHOP_ADDRESS, startExampleShop } from '../support/example-shop.js';
import {
  installPythonClient,
  PYTHON_CLIENT_DIR,
  PYTHON_INSTALL_TIMEOUT_MILLIS,
  securedServeArgs,
} from '../support/client-builds.js';

const run = promisify(execFile);
const { nodes } = inject('redisCluster');
const nodeList = nodes.map((n) => `${n.host}:${n.port}`).join(',');
const keyPrefix = `pyc${randomBytes(4).toString('hex')}:`;
const PYTEST_TIMEOUT_MILLIS = 120_000;

const dir = mkdtempSync(join(tmpdir(), 'tessera-python-client-'));
const processes: CliProcess[] = [];
let certs: TestCertificates;
let python = '';
let env: NodeJS.ProcessEnv = {};
let exampleAddress = '';
/** The address the README's example uses (`npm start`). */
const README_ADDRESS = EXAMPLE_SHOP_ADDRESS;

/** A read-scope key of the deployment, made on the store as an operator makes the first key. */
async function createReadKey(): Promise<string> {
  const { stdout } = await run(
    'node',
    [
      join(REPO_ROOT, 'packages/cli/bin/tessera.js'),
      'keys',
      'create',
      'python-reader',
      '--scopes',
      'read',
      '--redis-cluster',
      nodeList,
      '--key-prefix',
      keyPrefix,
    ],
    { cwd: REPO_ROOT, timeout: 60_000 },
  );
  return stdout.trim();
}

async function startServer(): Promise<{ tlsAddress: string; localAddress: string }> {
  const offline = await startOfflineServerCli(join(dir, 'offline'));
  processes.push(offline.process);
  const serve = startCli([
    'serve',
    '--port',
    '0',
    ...securedServeArgs({ nodeList, keyPrefix, offlineAddress: offline.address, certs }),
    '--local-port',
    '0',
    '--apply',
    join(PYTHON_CLIENT_DIR, 'tests', 'repo'),
  ]);
  processes.push(serve);
  const [, tlsAddress = ''] = await serve.waitFor(/serving on (\S+)/);
  const [, localAddress = ''] = await serve.waitFor(/serving this host on (\S+)/);
  await serve.waitFor(/applied /);
  return { tlsAddress, localAddress };
}

/** `npm start` on a free port and a fresh store: the example repository and its sample data. */
async function startExampleServer(): Promise<string> {
  const shop = await startExampleShop(join(dir, 'example'));
  processes.push(shop.process);
  return shop.address;
}

beforeAll(async () => {
  certs = makeTestCertificates();
  const [client, server, readKey, example] = await Promise.all([
    installPythonClient(),
    startServer(),
    createReadKey(),
    startExampleServer(),
  ]);
  python = client.python;
  exampleAddress = example;
  env = {
    ...process.env,
    ...client.env,
    TESSERA_TEST_ADDRESS: server.localAddress,
    TESSERA_TEST_TLS_ADDRESS: server.tlsAddress.replace(/^[^:]+:/, 'localhost:'),
    TESSERA_TEST_CA_FILE: certs.caFile,
    TESSERA_TEST_CLIENT_CERT: certs.clientCertFile,
    TESSERA_TEST_CLIENT_KEY: certs.clientKeyFile,
    TESSERA_TEST_READ_KEY: readKey,
  };
}, PYTHON_INSTALL_TIMEOUT_MILLIS + 60_000);

afterAll(async () => {
  for (const p of processes.reverse()) await p.stop('SIGTERM');
  certs?.[Symbol.dispose]();
  rmSync(dir, { recursive: true, force: true });
});

it(
  'passes its pytest suite against a real server, skipping nothing',
  async () => {
    let code = 0;
    let output = '';
    try {
      const { stdout, stderr } = await run(python, ['-m', 'pytest', '-q', '-rs', '-p', 'no:cacheprovider', 'tests'], {
        cwd: PYTHON_CLIENT_DIR,
        env,
        timeout: PYTEST_TIMEOUT_MILLIS,
        maxBuffer: 16 * 1024 * 1024,
      });
      output = stdout + stderr;
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      code = typeof failed.code === 'number' ? failed.code : -1;
      output = `${failed.stdout ?? ''}${failed.stderr ?? ''}\n${String(error)}`;
    }
    expect(code, output).toBe(0);
    expect(output, output).toMatch(/\d+ passed/);
    expect(output, output).not.toMatch(/skipped/);
  },
  PYTEST_TIMEOUT_MILLIS + 10_000,
);

it(
  'runs the README example as printed',
  async () => {
    const readme = readFileSync(join(PYTHON_CLIENT_DIR, 'README.md'), 'utf8');
    const code = /```python\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    // Each `print(...)  # text` line of the example promises that output line.
    const expected = [...code.matchAll(/^\s*print\(.*\)\s+# (.*)$/gm)].map((m) => m[1]);
    expect(expected.length).toBeGreaterThan(2);
    const script = join(dir, 'readme_example.py');
    writeFileSync(script, code.replaceAll(README_ADDRESS, exampleAddress));
    const { stdout } = await run(python, [script], { cwd: dir, env, timeout: PYTEST_TIMEOUT_MILLIS });
    expect(stdout.trimEnd().split('\n')).toEqual(expected);
  },
  PYTEST_TIMEOUT_MILLIS + 10_000,
);
