import type { ChainableCommander, Cluster } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { TesseraError, isTesseraError } from '@tessera/core';
import { backoffMillis } from './backoff.js';
import { debugOnline } from './debug.js';
import { sleep, withDeadline } from './deadline.js';
import { isMissingFunction, loadFunctionLibrary, type FunctionLibrary } from './function-library.js';
import { groupKeysByNode, type NodeGroup } from './group-by-node.js';
import { describeError, isRetriableRedisError } from './redis-errors.js';

/** One command per key: how to add it to a pipeline, what to do with its reply. */
export interface PerKeyCommand {
  /** What the request is, for messages: `read of 100 entities`. */
  readonly what: string;
  /** The Redis command sent per key, for traces: `HMGET`, `EVALSHA`. */
  readonly command: string;
  /** Full Redis keys (prefix included). */
  readonly keys: readonly string[];
  /** Absolute deadline, ms since epoch. */
  readonly deadlineMillis: number;
  /** How long to wait for a client that is still connecting before answering UNAVAILABLE. */
  readonly connectWaitMillis: number;
  /**
   * The Functions library that the commands FCALL: a master that answers "Function not found" gets
   * it loaded, and those keys are retried like a redirection.
   */
  readonly library?: FunctionLibrary;
  add(pipeline: ChainableCommander, k: number): void;
  onReply(k: number, reply: unknown): void;
}

/**
 * Sends one command per key, one pipeline per master, all masters in parallel. Commands that
 * fail with a redirection (MOVED/ASK), CLUSTERDOWN or a lost connection are retried after a
 * slot-table refresh, with backoff, until the deadline; their successful siblings are not resent
 * (a resent LWW write would be harmless anyway: it is idempotent). Returns each key's slot.
 */
export async function runPerNode(cluster: Cluster, command: PerKeyCommand): Promise<Uint16Array> {
  const { what, keys, deadlineMillis, connectWaitMillis } = command;
  const slots = new Uint16Array(keys.length);
  for (let k = 0; k < keys.length; k++) slots[k] = calculateSlot(keys[k] as string);
  const run = async (): Promise<void> => {
    let pending: number[] = Array.from(keys.keys());
    for (let attempt = 0; ; attempt++) {
      await ensureClusterReady(cluster, deadlineMillis, connectWaitMillis, what);
      const failed: number[] = [];
      const errors = await Promise.all(
        groupKeysByNode(cluster.slots, slots, pending).map((group) => execGroup(cluster, group, command, failed)),
      );
      if (failed.length === 0) return;
      const lastError = errors.findLast((error) => error !== undefined);
      const remainingMillis = deadlineMillis - Date.now();
      if (remainingMillis <= 0) {
        throw new TesseraError(
          'DEADLINE_EXCEEDED',
          `${what}: ${failed.length} keys still failing at the deadline (last error: ${describeError(lastError)})`,
          { cause: lastError },
        );
      }
      debugOnline(`${what}: retrying ${failed.length} keys (attempt ${attempt + 1}): ${describeError(lastError)}`);
      await Promise.all([refreshSlots(cluster), sleep(Math.min(backoffMillis(attempt), remainingMillis))]);
      pending = failed;
    }
  };
  await withDeadline(run(), deadlineMillis, what);
  return slots;
}

const tracer = trace.getTracer('@tessera/online');

/**
 * Runs one group's pipeline in a span of its own under the caller's (one per master and attempt, the
 * master's address as `server.address`/`server.port`); see {@link execGroupIn}.
 */
async function execGroup(
  cluster: Cluster,
  group: NodeGroup,
  command: PerKeyCommand,
  failed: number[],
): Promise<unknown> {
  // Only inside a traced operation: a pipeline with no caller span would be a trace of its own.
  if (trace.getSpan(context.active()) === undefined) return execGroupIn(cluster, group, command, failed);
  const operation = `BATCH ${command.command}`;
  return tracer.startActiveSpan(operation, { kind: SpanKind.CLIENT }, async (span) => {
    if (span.isRecording()) {
      const master = group.master ?? '';
      const colon = master.lastIndexOf(':');
      span.setAttributes({
        'db.system.name': 'redis',
        'db.operation.name': operation,
        'db.operation.batch.size': group.indices.length,
        ...(colon > 0
          ? { 'server.address': master.slice(0, colon), 'server.port': Number(master.slice(colon + 1)) }
          : {}),
      });
    }
    try {
      const lastError = await execGroupIn(cluster, group, command, failed);
      if (lastError !== undefined) recordFailure(span, lastError);
      return lastError;
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

function recordFailure(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
  span.setAttribute('error.type', error instanceof Error ? error.name : 'Error');
}

/** Runs one group's pipeline; pushes retriable failures to `failed` and returns the last such error. */
async function execGroupIn(
  cluster: Cluster,
  group: NodeGroup,
  command: PerKeyCommand,
  failed: number[],
): Promise<unknown> {
  const pipeline = cluster.pipeline();
  for (const k of group.indices) command.add(pipeline, k);
  let replies: [Error | null, unknown][] | null;
  try {
    replies = await pipeline.exec();
  } catch (error) {
    if (!isRetriableRedisError(error)) throw internalError(command.what, group.master ?? 'Redis', error);
    failed.push(...group.indices);
    return error;
  }
  if (replies === null) {
    failed.push(...group.indices);
    return new Error(`pipeline to ${group.master ?? 'an unassigned slot'} returned no replies`);
  }
  let lastError: unknown;
  let missingFunction = false;
  for (let j = 0; j < group.indices.length; j++) {
    const k = group.indices[j] as number;
    const [error, reply] = replies[j] ?? [new Error('missing reply'), null];
    if (error === null) {
      command.onReply(k, reply);
    } else if (isRetriableRedisError(error)) {
      failed.push(k);
      lastError = error;
    } else if (command.library !== undefined && isMissingFunction(error)) {
      failed.push(k);
      lastError = error;
      missingFunction = true;
    } else {
      throw internalError(command.what, `key ${command.keys[k]}`, error);
    }
  }
  if (missingFunction && command.library !== undefined) {
    debugOnline(`${command.what}: loading library ${command.library.name} on ${group.master ?? 'every master'}`);
    await loadFunctionLibrary(cluster, group.master, command.library, command.what);
  }
  return lastError;
}

/** Clients seen ready at least once (before that, a failed attempt is still the first connection). */
const everReady = new WeakSet<Cluster>();

/**
 * Resolves once the client is ready. A client that was ready and lost every node (status
 * close/reconnecting) fails at once with UNAVAILABLE instead of waiting out reconnect attempts;
 * one that is connecting, or has never been ready yet (its first attempt failed and it retries),
 * gets `connectWaitMillis` (within the deadline), so one slow or failed first attempt is not an
 * error. Reconnection goes on in the background: the store recovers by itself when Redis comes back.
 */
export async function ensureClusterReady(
  cluster: Cluster,
  deadlineMillis: number,
  connectWaitMillis: number,
  what: string,
): Promise<void> {
  switch (cluster.status) {
    case 'ready':
      everReady.add(cluster);
      return;
    case 'end':
    case 'disconnecting':
      throw new TesseraError('UNAVAILABLE', `${what}: the online store is closed`);
    case 'close':
    case 'reconnecting':
      if (everReady.has(cluster)) throw unreachable(what);
      break;
    case 'wait':
      cluster.connect().catch(() => undefined);
      break;
    case 'connecting':
    case 'connect':
      break;
  }
  let cleanUp = (): void => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    const onReady = (): void => {
      everReady.add(cluster);
      resolve();
    };
    const onEnd = (): void => reject(new TesseraError('UNAVAILABLE', `${what}: the online store is closed`));
    cluster.once('ready', onReady);
    cluster.once('end', onEnd);
    cleanUp = () => {
      cluster.off('ready', onReady);
      cluster.off('end', onEnd);
    };
  });
  const waitUntilMillis = Math.min(deadlineMillis, Date.now() + connectWaitMillis);
  try {
    await withDeadline(ready, waitUntilMillis, what);
  } catch (error) {
    if (waitUntilMillis < deadlineMillis && isTesseraError(error) && error.code === 'DEADLINE_EXCEEDED')
      throw unreachable(what);
    throw error;
  } finally {
    cleanUp();
  }
}

/** Refreshes the client's slot table; a failed refresh is not an error here (the retry finds out). */
export function refreshSlots(cluster: Cluster): Promise<void> {
  return new Promise((resolve) => cluster.refreshSlotsCache(() => resolve()));
}

function unreachable(what: string): TesseraError {
  return new TesseraError('UNAVAILABLE', `${what}: Redis Cluster is unreachable (reconnecting in the background)`);
}

function internalError(what: string, where: string, error: unknown): TesseraError {
  return new TesseraError('INTERNAL', `${what}: ${where} failed: ${describeError(error)}`, { cause: error });
}
