import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isTesseraError } from '@tessera/core';
import { createRedisClient, createRedisCluster, createRedisStandalone } from '../src/index.js';
import { findFreePorts, releasePorts, startSecuredRedis, type SecuredRedis } from '@tessera/testkit';

const nodes = (): { host: string; port: number }[] => inject('redisCluster').nodes;

describe('createRedisCluster', () => {
  it('reaches every master of the real cluster from one seed node', async () => {
    const cluster = createRedisCluster({ nodes: nodes().slice(0, 1) });
    try {
      const prefix = `test:${randomUUID().slice(0, 8)}:`;
      // Keys spread over many slots, so several masters answer.
      const keys = Array.from({ length: 32 }, (_, i) => `${prefix}${i}`);
      await Promise.all(keys.map((key, i) => cluster.set(key, String(i), 'PX', 60_000)));
      const values = await Promise.all(keys.map((key) => cluster.get(key)));
      expect(values).toEqual(keys.map((_, i) => String(i)));
      expect(cluster.nodes('master').length).toBeGreaterThan(1);
    } finally {
      await cluster.quit();
    }
  });

  it('refuses to build a client without nodes, with INVALID_ARGUMENT', () => {
    let caught: unknown;
    try {
      createRedisCluster({ nodes: [] });
    } catch (error) {
      caught = error;
    }
    expect(isTesseraError(caught) && caught.code).toBe('INVALID_ARGUMENT');
  });

  it('names the TLS file it cannot read, with INVALID_ARGUMENT', () => {
    expect(() => createRedisCluster({ nodes: nodes(), tls: { caFile: '/nonexistent/ca.pem' } })).toThrow(
      /Redis TLS CA certificate \/nonexistent\/ca\.pem cannot be read \(ENOENT\)/,
    );
  });
});

describe('createRedisStandalone', () => {
  let secured: SecuredRedis;
  beforeAll(async () => {
    secured = await startSecuredRedis();
  });
  afterAll(async () => {
    await secured?.stop();
  });

  const base = (): { mode: 'standalone'; nodes: { host: string; port: number }[]; maxRetriesPerRequest: number } => ({
    mode: 'standalone',
    nodes: [{ host: '127.0.0.1', port: secured.port }],
    // One attempt: a refused handshake fails the test's command instead of retrying for seconds.
    maxRetriesPerRequest: 0,
  });

  it('connects over TLS as an ACL user with its password', async () => {
    const client = createRedisClient({
      ...base(),
      username: secured.username,
      password: secured.password,
      tls: { caFile: secured.caFile },
    });
    try {
      expect(await client.call('ACL', 'WHOAMI')).toBe(secured.username);
    } finally {
      client.disconnect();
    }
  });

  it('is refused with a wrong password', async () => {
    const client = createRedisStandalone({
      ...base(),
      username: secured.username,
      password: 'not-the-password',
      tls: { caFile: secured.caFile },
    });
    try {
      await expect(client.ping()).rejects.toThrow(/WRONGPASS|NOAUTH/);
    } finally {
      client.disconnect();
    }
  });

  it('does not trust a server certificate signed by an unknown CA', async () => {
    const client = createRedisStandalone({
      ...base(),
      username: secured.username,
      password: secured.password,
      // No caFile: the system CAs, which did not sign the test certificate.
      tls: {},
      connectTimeoutMillis: 2_000,
      maxReconnectDelayMillis: 50,
    });
    try {
      await expect(client.ping()).rejects.toThrow();
      expect(client.status).not.toBe('ready');
    } finally {
      client.disconnect();
    }
  });

  it('fails a command at once while disconnected when the offline queue is off', async () => {
    const [port] = await findFreePorts(1);
    const client = createRedisStandalone({
      mode: 'standalone',
      nodes: [{ host: '127.0.0.1', port: port! }],
      enableOfflineQueue: false,
    });
    try {
      await expect(client.get('anything')).rejects.toThrow(/offline queue is disabled|Stream isn't writeable/);
    } finally {
      client.disconnect();
      releasePorts([port!]);
    }
  });
});
