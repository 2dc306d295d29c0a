import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { RedisNodeAddress } from '@tessera/testkit';

/** Nodes of the shared test cluster started by the vitest global setup (never stopped by a test). */
export function sharedRedisNodes(): RedisNodeAddress[] {
  return inject('redisCluster').nodes;
}

/** A key prefix no other test file uses, so files share the cluster without seeing each other's keys. */
export function freshKeyPrefix(): string {
  return `test:${randomUUID().slice(0, 8)}:`;
}
