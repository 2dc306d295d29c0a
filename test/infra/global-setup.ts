import type { TestProject } from 'vitest/node';
import { type RedisNodeAddress, startRedisCluster } from '@tessera/testkit';

/**
 * One Redis Cluster shared by every test file of the run. Tests isolate themselves by key prefix; a test
 * that kills nodes starts its own cluster with `startRedisCluster` so it never disturbs this one.
 */

/** Env var naming an existing cluster (`host:port,host:port,...`) to use instead of starting one. */
export const EXTERNAL_CLUSTER_ENV = 'TESSERA_TEST_REDIS_CLUSTER';

/** What test files get from `inject('redisCluster')`. */
export interface SharedRedisCluster {
  /** Seed nodes; with the started cluster, all six. */
  readonly nodes: RedisNodeAddress[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisCluster: SharedRedisCluster;
  }
}

/** Vitest global setup: provides `redisCluster` and returns the teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env[EXTERNAL_CLUSTER_ENV];
  if (external !== undefined && external.trim() !== '') {
    project.provide('redisCluster', { nodes: parseNodeList(external) });
    return () => Promise.resolve();
  }
  const startedAt = Date.now();
  const cluster = await startRedisCluster();
  process.stderr.write(
    `[tessera] Redis Cluster on ports ${cluster.nodes.map((node) => node.port).join(',')} ` +
      `ready in ${Date.now() - startedAt} ms (${cluster.dir})\n`,
  );
  project.provide('redisCluster', { nodes: [...cluster.nodes] });
  return () => cluster.stop();
}

function parseNodeList(text: string): RedisNodeAddress[] {
  return text.split(',').map((item) => {
    const trimmed = item.trim();
    const colon = trimmed.lastIndexOf(':');
    const port = Number(trimmed.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
      throw new Error(`${EXTERNAL_CLUSTER_ENV} must be host:port[,host:port...]; got ${JSON.stringify(item)}`);
    }
    return { host: trimmed.slice(0, colon), port };
  });
}
