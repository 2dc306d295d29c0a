import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { findFreePorts, releasePorts } from './ports.js';
import { pollUntil } from './processes.js';

/** A standalone redis-server on loopback that demands TLS and a password, stopped by `stop()`. */
export interface SecuredRedis {
  readonly port: number;
  /** PEM file of the CA that signed the server's certificate. */
  readonly caFile: string;
  readonly username: string;
  readonly password: string;
  stop(): Promise<void>;
}

/** Starts redis-server with a fresh CA, a certificate for 127.0.0.1 and an ACL user. */
export async function startSecuredRedis(): Promise<SecuredRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-secured-redis-'));
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=tessera-test-ca',
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=localhost',
  );
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '1',
    '-extfile',
    'ext',
  );
  const [port] = await findFreePorts(1);
  const username = 'tessera';
  const password = 'secret-of-the-test';
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      join(dir, 'server.crt'),
      '--tls-key-file',
      join(dir, 'server.key'),
      '--tls-ca-cert-file',
      join(dir, 'ca.crt'),
      '--tls-auth-clients',
      'no',
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--requirepass',
      'the-default-users-password',
      // One argument per ACL rule: redis-server reads a user name with spaces as an error.
      '--user',
      username,
      'on',
      `>${password}`,
      '~*',
      '&*',
      '+@all',
    ],
    { stdio: 'ignore' },
  );
  releasePorts([port!]);
  const listening = await isListening(port!);
  if (!listening) {
    child.kill('SIGKILL');
    throw new Error(`redis-server with TLS did not listen on ${port}`);
  }
  return {
    port: port!,
    caFile: join(dir, 'ca.crt'),
    username,
    password,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether something accepts connections on loopback `port` within 10 s. */
function isListening(port: number): Promise<boolean> {
  return pollUntil(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      }),
    10_000,
  );
}

/** A Redis Cluster of three masters (no replicas) that demands a password, stopped by `stop()`. */
export interface PasswordCluster {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly password: string;
  stop(): Promise<void>;
}

/** Starts three redis-server processes with `requirepass` and joins them into a cluster. */
export async function startPasswordCluster(): Promise<PasswordCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-password-cluster-'));
  const password = 'cluster-secret-of-the-test';
  const ports = await findFreePorts(3, { offsets: [0, 10_000] });
  const children = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--requirepass',
        password,
        '--masterauth',
        password,
      ],
      { stdio: 'ignore' },
    ),
  );
  releasePorts(ports, [0, 10_000]);
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        return exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const cli = (...args: string[]): string =>
    execFileSync('redis-cli', ['-a', password, '--no-auth-warning', ...args], { encoding: 'utf8' });
  try {
    for (const port of ports) {
      if (!(await isListening(port))) throw new Error(`redis-server did not listen on ${port}`);
    }
    cli('--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes');
    const ok = await pollUntil(
      () =>
        Promise.resolve(ports.every((port) => cli('-p', String(port), 'cluster', 'info').includes('cluster_state:ok'))),
      20_000,
      100,
    );
    if (!ok) throw new Error('the password-protected cluster did not reach cluster_state:ok');
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), password, stop };
}
