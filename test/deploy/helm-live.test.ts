import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TesseraClient } from '@tessera/client';
import { MATERIALIZE_QUEUE, OFFLINE_QUEUE, queuePrefix } from '@tessera/writebehind';
import { findFreePorts, makeTestCertificates, releasePorts, REPO_ROOT, startCli } from '@tessera/testkit';
import {
  configMapFile,
  containersOf,
  find,
  FULLNAME,
  run,
  setUpHelm,
  template,
  valuesFile,
  type Container,
} from './support/chart.js';

// What the chart renders, run on real components: the KEDA trigger's lists filled by real BullMQ
// queues on the test Redis Cluster, and a real server started from the rendered configuration,
// checked by the rendered probe commands.

const SETUP_TIMEOUT_MILLIS = 20 * 60_000;
let scratch = '';

beforeAll(async () => {
  await setUpHelm();
  scratch = mkdtempSync(join(tmpdir(), 'tessera-helm-live-'));
}, SETUP_TIMEOUT_MILLIS);

afterAll(() => {
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

describe('the chart on real components', () => {
  it('scales writers on the wait lists that the write-behind and Materialize queues fill', async () => {
    const nodes = inject('redisCluster').nodes;
    const keyPrefix = `helm-${randomUUID().slice(0, 8)}:`;
    const manifests = await template([valuesFile('production')], ['--set', `redis.keyPrefix=${keyPrefix}`]);
    const { triggers } = find(manifests, 'ScaledObject', `${FULLNAME}-writer`)['spec'] as {
      triggers: { type: string; name: string; metadata: Record<string, string> }[];
    };
    expect(triggers.map((t) => [t.type, t.name])).toEqual([
      ['redis-cluster', OFFLINE_QUEUE],
      ['redis-cluster', MATERIALIZE_QUEUE],
    ]);

    // The list KEDA reads is the one where that queue's jobs wait until a writer takes them.
    const connection = new Cluster(
      nodes.map(({ host, port }) => ({ host, port })),
      { redisOptions: { maxRetriesPerRequest: null } },
    );
    try {
      for (const [index, trigger] of triggers.entries()) {
        const queue = new Queue(trigger.name, { connection, prefix: queuePrefix(keyPrefix) });
        try {
          for (let job = 0; job <= index; job++) await queue.add('job', { job });
          expect(await connection.llen(trigger.metadata['listName']!), trigger.name).toBe(index + 1);
        } finally {
          await queue.obliterate({ force: true });
          await queue.close();
        }
      }
    } finally {
      connection.disconnect();
    }
  });

  it.each(['tls', 'mtls'] as const)(
    'starts a real server from the rendered configuration, and its rendered probes see it (%s)',
    async (variant) => {
      const nodes = inject('redisCluster').nodes;
      using certs = makeTestCertificates();
      const [localPort] = await findFreePorts(1);
      try {
        const values = join(scratch, `real-${variant}-values.yaml`);
        writeFileSync(
          values,
          JSON.stringify({
            redis: { nodes, keyPrefix: `helm-${randomUUID().slice(0, 8)}:` },
            clickhouse: { enabled: false },
            writer: { enabled: false },
            ...(variant === 'mtls' ? { tls: { clientCa: { enabled: true } }, server: { localPort } } : {}),
          }),
        );
        const manifests = await template([valuesFile('minimal'), values]);
        const config = join(scratch, `real-${variant}.yaml`);
        writeFileSync(config, configMapFile(manifests, FULLNAME, 'tessera.yaml'));
        const script = join(scratch, 'grpc-health.mjs');
        writeFileSync(script, configMapFile(manifests, FULLNAME, 'grpc-health.mjs'));
        const container = containersOf(manifests).find((c) => c.name === 'server') as Container & {
          readinessProbe: { exec: { command: string[] } };
          livenessProbe: { exec: { command: string[] } };
        };
        // The pod's files and addresses, moved to this machine's loopback: flags and variables win over the file.
        const server = startCli(
          ['serve', '--config', config, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'],
          {
            TESSERA_TLS_CERT_FILE: certs.serverCertFile,
            TESSERA_TLS_KEY_FILE: certs.serverKeyFile,
            ...(variant === 'mtls' ? { TESSERA_TLS_CLIENT_CA_FILE: certs.caFile } : {}),
            TESSERA_METRICS_HOST: '127.0.0.1',
          },
        );
        try {
          const [, address] = await server.waitFor(/serving on (\S+)/);
          // The probe command as the kubelet runs it in the pod, on this machine's addresses.
          const probe = async (command: readonly string[]): Promise<number> => {
            const [node, , target, ...rest] = command;
            const here = target === '127.0.0.1:6566' ? address! : target!;
            return run(node!, [script, here, ...rest], { timeout: 30_000 }).then(
              () => 0,
              (error: { code?: number }) => (typeof error.code === 'number' ? error.code : 1),
            );
          };
          const liveness = container.livenessProbe.exec.command;
          const readiness = container.readinessProbe.exec.command;
          expect(readiness.slice(-2)).toEqual([variant === 'mtls' ? 'plaintext' : 'tls', 'readiness']);
          expect(await probe(liveness)).toBe(0);
          await expect.poll(() => probe(readiness), { timeout: 20_000, interval: 500 }).toBe(0);
          expect(await probe([...readiness.slice(0, -1), 'no.such.service'])).toBe(1);
          if (variant === 'tls') {
            // The first admin key, made as NOTES.txt says: on the store the pod's configuration names.
            const { stdout } = await run(
              'node',
              [
                join(REPO_ROOT, 'packages/cli/bin/tessera.js'),
                'keys',
                'create',
                'ops',
                '--scopes',
                'admin',
                '--config',
                config,
              ],
              { cwd: REPO_ROOT, timeout: 30_000 },
            );
            const anonymous = new TesseraClient({ address: address!, tls: { caFile: certs.caFile } });
            await expect(anonymous.list()).rejects.toThrow(/needs an API key/);
            anonymous.close();
            const client = new TesseraClient({
              address: address!,
              tls: { caFile: certs.caFile },
              apiKey: stdout.trim(),
            });
            try {
              await expect
                .poll(
                  () =>
                    client.list().then(
                      () => 'ok',
                      (error: Error) => error.message,
                    ),
                  {
                    timeout: 10_000,
                    interval: 250,
                  },
                )
                .toBe('ok');
            } finally {
              client.close();
            }
          }
          if (variant === 'mtls') {
            // Why the probe goes to the local listener: the gRPC port refuses a client without a certificate.
            expect(await probe(['node', 'script', address!, 'tls', 'liveness'])).toBe(1);
          }
        } finally {
          await server.stop('SIGTERM');
        }
      } finally {
        releasePorts([localPort!]);
      }
    },
    90_000,
  );
});
