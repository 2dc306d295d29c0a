import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { silentLogger } from '@tessera/core';
import { createKey, openApiKeyStore } from '@tessera/registry';
import { startFeatureServer, type FeatureServer } from '@tessera/feature-server';
import { makeTestCertificates, type TestCertificates } from '@tessera/testkit';
import { freshBackend } from '../support/server.js';

// The Feast HTTP listener follows the gRPC port's rules: TLS from the same files, the same keys, and
// no plaintext exposure beyond loopback.

const { nodes } = inject('redisCluster');
let certs: TestCertificates;
let server: FeatureServer;
let token: string;

/** One HTTPS call to the Feast listener, trusting the test CA. */
function call(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.feastPort,
        path,
        method,
        ca: readFileSync(certs.caFile),
        servername: 'localhost',
        headers: {
          'content-type': 'application/json',
          ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

beforeAll(async () => {
  certs = makeTestCertificates();
  const { backend } = freshBackend('redis-cluster', nodes);
  const keys = openApiKeyStore(backend);
  try {
    token = (await createKey(keys, 'feast-reader', ['read'])).token;
  } finally {
    await keys.close();
  }
  server = await startFeatureServer({
    port: 0,
    backend,
    auth: true,
    tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile },
    feast: { port: 0 },
    logger: silentLogger,
  });
});

afterAll(async () => {
  await server?.close();
  certs?.[Symbol.dispose]();
});

describe('Feast HTTP endpoints', () => {
  it('refuses to serve them beyond loopback without authentication and TLS', async () => {
    const { backend } = freshBackend('redis-cluster', nodes);
    await expect(
      startFeatureServer({ port: 0, backend, feast: { host: '0.0.0.0', port: 0 }, logger: silentLogger }),
    ).rejects.toThrow(/refusing to serve 0\.0\.0\.0 without authentication \(--auth\) and TLS/);
  });

  it('speaks TLS with the server certificate, health open to all', async () => {
    expect((await call('GET', '/health')).status).toBe(200);
  });

  it('answers with the scope rules and Feast error details of the gRPC port', async () => {
    const read = { features: ['driver_stats:trips'], entities: { driver_id: [1] } };
    const anonymous = await call('POST', '/get-online-features', read);
    expect(anonymous.status).toBe(401);
    const unknown = await call('POST', '/get-online-features', read, token);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(JSON.parse(unknown.text) as string)).toMatchObject({
      module: 'feast.errors',
      class: 'FeastObjectNotFoundException',
    });
    const push = await call('POST', '/push', { push_source_name: 'p', df: {} }, token);
    expect(push.status).toBe(403);
    expect(push.text).toContain('lacks the write scope');
    expect((await call('GET', '/push', undefined, token)).status).toBe(405);
    expect((await call('GET', '/nowhere')).status).toBe(404);
    const malformed = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.feastPort,
          path: '/get-online-features',
          method: 'POST',
          ca: readFileSync(certs.caFile),
          servername: 'localhost',
          headers: { authorization: `Bearer ${token}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('{"features": [');
    });
    expect(malformed).toBe(422);
  });
});
