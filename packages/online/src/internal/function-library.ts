import type { Cluster } from 'ioredis';
import { TesseraError } from '@tessera/core';
import { describeError, isRetriableRedisError } from './redis-errors.js';

/** A Redis Functions library (`FUNCTION LOAD` text and the name it registers). */
export interface FunctionLibrary {
  readonly name: string;
  readonly code: string;
}

/**
 * True for FCALL's reply when the master lacks the function: a new master, a failover to a node
 * that never had it (replicas get it by replication, a node added later does not), or an operator's
 * `FUNCTION FLUSH` / `FUNCTION DELETE`. The caller loads the library there and retries, as ioredis
 * does for EVALSHA's NOSCRIPT.
 */
export function isMissingFunction(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('ERR Function not found');
}

/**
 * Loads `library` (`FUNCTION LOAD REPLACE`: the name carries a hash of the text, so replacing
 * replaces it by itself) on the master `host:port`, or on every master when it is undefined or not
 * connected. A connection error is left to the caller's retry; any other (an ACL without the
 * `function` command, a library Redis refuses) fails with INTERNAL, naming the library and node.
 */
export async function loadFunctionLibrary(
  cluster: Cluster,
  master: string | undefined,
  library: FunctionLibrary,
  what: string,
): Promise<void> {
  const masters = cluster.nodes('master');
  const named = masters.filter((node) => `${node.options.host}:${node.options.port}` === master);
  await Promise.all(
    (named.length > 0 ? named : masters).map(async (node) => {
      try {
        await node.call('FUNCTION', 'LOAD', 'REPLACE', library.code);
      } catch (error) {
        if (isRetriableRedisError(error)) return;
        throw new TesseraError(
          'INTERNAL',
          `${what}: FUNCTION LOAD of library ${library.name} on ${node.options.host}:${node.options.port} failed: ` +
            `${describeError(error)} (the Redis user needs the commands function and fcall)`,
          { cause: error },
        );
      }
    }),
  );
}
