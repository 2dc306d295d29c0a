import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { findFreePorts, releasePorts } from '../../../../test/infra/ports.js';
import { pollUntil } from '../../../../test/infra/processes.js';

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
  const listening = await pollUntil(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: port! }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      }),
    10_000,
  );
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
