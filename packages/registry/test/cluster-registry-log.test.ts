import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { emptyRegistryState, type RegistryLogEntry } from '@tessera/core';
import { LmdbRegistryLog, RedisRegistryLog, clusterRegistryLog } from '../src/index.js';

const entry: RegistryLogEntry = {
  sequence: 1,
  state: { ...emptyRegistryState(), sequence: 1 },
  author: 'cluster-log-test',
  appliedAtMillis: 1,
  changes: [],
};

describe('clusterRegistryLog', () => {
  it("keeps the log in the Redis Cluster under the deployment's key prefix when there is no ClickHouse server", async () => {
    const nodes = inject('redisCluster').nodes;
    const keyPrefix = `test:${randomUUID().slice(0, 8)}:`;
    const log = await clusterRegistryLog(nodes, keyPrefix, undefined);
    expect(await log.append(0, entry)).toBe(true);
    // Another server or writer of the same deployment reads it at the agreed key.
    const other = new RedisRegistryLog({ nodes, keyPrefix: `${keyPrefix}{tessera:registry}:` });
    expect(await other.readSequence()).toBe(1);
    await Promise.all([log.close(), other.close()]);
  });

  it('uses the log beside the offline tables when the deployment has a ClickHouse server', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'tessera-cluster-log-'));
    const beside = new LmdbRegistryLog({ directory });
    try {
      const log = await clusterRegistryLog(inject('redisCluster').nodes, 'unused:', () => Promise.resolve(beside));
      expect(log).toBe(beside);
    } finally {
      await beside.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
