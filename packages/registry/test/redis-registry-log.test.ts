import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import type { RegistryLog } from '@tessera/core';
import { RedisRegistryLog } from '../src/index.js';
import { describeRegistryLog } from './registry-log-suite.js';

/** A namespace no other test file uses; each test gets its own below it. */
const fileNamespace = `test:${randomUUID().slice(0, 8)}`;
const prefixes = new WeakMap<RegistryLog, string>();
let count = 0;

function openAt(keyPrefix: string): RegistryLog {
  const log = new RedisRegistryLog({ nodes: inject('redisCluster').nodes, keyPrefix });
  prefixes.set(log, keyPrefix);
  return log;
}

describeRegistryLog('RedisRegistryLog', {
  fresh: () => Promise.resolve(openAt(`{tessera:registry:${fileNamespace}:${count++}}:`)),
  sameAs: (log) => Promise.resolve(openAt(prefixes.get(log) ?? '')),
});

it('refuses a key prefix without a hash tag', () => {
  expect(() => new RedisRegistryLog({ nodes: inject('redisCluster').nodes, keyPrefix: 'tessera:registry:' })).toThrow(
    /needs a hash tag/,
  );
});
