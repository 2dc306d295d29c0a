/**
 * Materialize: copy the latest offline value of every entity with an event in a time range to the
 * online store. The online write is last-writer-wins by event time, so a fresher online value is
 * never overwritten. Incremental runs start where the previous run of the view ended (kept per view
 * version beside the online rows). Progress streams per batch.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { Database } from 'lmdb';
import {
  RowEncoder,
  TesseraError,
  entityKey,
  retentionMillis,
  viewField,
  type OfflineStore,
  type OnlineStore,
  type RegisteredView,
} from '@tessera/core';
import type { LmdbOnlineStore } from '@tessera/online';
import type { BullmqMaterializer } from '@tessera/writebehind';
import type { MaterializeProgress, MaterializeRequest } from '@tessera/proto';
import { toGrpcStatus } from './grpc-status.js';
import { materializeEndMillis } from './materialize-range.js';
import type { Lane } from './lanes.js';
import { SmallRedisStore } from './small-redis-store.js';

/** The last materialized point (an exclusive end, ms) of each view version. */
export interface MaterializeState {
  get(view: string): Promise<number | undefined>;
  /** Records `endMillis` unless a later point is already recorded. */
  advance(view: string, endMillis: number): Promise<void>;
  close(): Promise<void>;
}

export interface MaterializeProgressEvent {
  readonly rowsRead: number;
  readonly rowsWritten: number;
}

/** Rows read from ClickHouse and written online per step. */
export const MATERIALIZE_BATCH_ROWS = 5_000;

/**
 * Copies the latest row per entity of `view` with an event in [startMillis, endMillis) online and
 * yields the running counts after every batch. Rows already past the view's online retention are
 * skipped (they would read as gone anyway).
 */
export async function* materializeView(options: {
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly view: RegisteredView;
  readonly startMillis: number;
  readonly endMillis: number;
  /** Only the keys of this part (cluster mode splits a view into parts by key hash). */
  readonly part?: { readonly index: number; readonly count: number };
  readonly signal?: AbortSignal;
  readonly nowMillis?: number;
}): AsyncGenerator<MaterializeProgressEvent, void, undefined> {
  const { view, online } = options;
  const ttlMillis = view.ttlSeconds * 1000;
  const now = options.nowMillis ?? Date.now();
  const oldestKept = ttlMillis > 0 ? now - retentionMillis(ttlMillis) : -Infinity;
  const startMillis = Math.max(options.startMillis, oldestKept);
  let rowsRead = 0;
  let rowsWritten = 0;
  if (startMillis >= options.endMillis) {
    yield { rowsRead, rowsWritten };
    return;
  }
  const encoder = new RowEncoder(view.features.map((feature) => feature.type));
  const field = viewField(view.id, view.version);
  const batches = options.offline.latestRows(view, {
    startMillis,
    endMillis: options.endMillis,
    batchRows: MATERIALIZE_BATCH_ROWS,
    ...(options.part === undefined ? {} : { part: options.part }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  for await (const rows of batches) {
    rowsRead += rows.length;
    const result = await materializeChunkSpan(view, options.part, rows.length, () =>
      online.write({
        field,
        ttlMillis,
        keys: rows.map((row) => entityKey(view.entities, row.keys)),
        rows: rows.map((row) => encoder.encode(row.eventTsMillis, row.features)),
      }),
    );
    rowsWritten += result.applied;
    yield { rowsRead, rowsWritten };
  }
  if (rowsRead === 0) yield { rowsRead, rowsWritten };
}

const tracer = trace.getTracer('@tessera/feature-server');

/** Runs one chunk's online write in a span `materialize <view>@<version>` (its Redis spans are children). */
function materializeChunkSpan<T extends { readonly applied: number }>(
  view: RegisteredView,
  part: { readonly index: number; readonly count: number } | undefined,
  rows: number,
  write: () => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(`materialize ${view.name}@${view.version}`, async (span) => {
    if (span.isRecording()) {
      span.setAttributes({
        'tessera.view': `${view.name}@${view.version}`,
        'tessera.materialize.rows_read': rows,
        ...(part === undefined
          ? {}
          : { 'tessera.materialize.part': part.index, 'tessera.materialize.parts': part.count }),
      });
    }
    try {
      const result = await write();
      if (span.isRecording()) span.setAttribute('tessera.materialize.rows_written', result.applied);
      return result;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Embedded: the points in the online store's LMDB environment. */
export class LmdbMaterializeState implements MaterializeState {
  readonly #store: LmdbOnlineStore;
  readonly #db: Database<number, string>;

  constructor(store: LmdbOnlineStore) {
    this.#store = store;
    this.#db = store.openDatabase<number, string>('materialized');
  }

  get(view: string): Promise<number | undefined> {
    return Promise.resolve(this.#db.get(view));
  }

  advance(view: string, endMillis: number): Promise<void> {
    this.#store.transaction(() => {
      const current = this.#db.get(view);
      if (current === undefined || current < endMillis) this.#db.putSync(view, endMillis);
    });
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const ADVANCE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1`;

/** Cluster mode: one hash on the Redis Cluster, shared by every server. */
export class RedisMaterializeState implements MaterializeState {
  readonly #redis: SmallRedisStore;
  readonly #key: string;

  constructor(nodes: readonly { readonly host: string; readonly port: number }[], keyPrefix: string) {
    this.#redis = new SmallRedisStore(nodes, 'materialization points');
    this.#key = `${keyPrefix}{tessera:materialized}`;
  }

  async get(view: string): Promise<number | undefined> {
    const value = await this.#redis.run((c) => c.hget(this.#key, view));
    return value === null ? undefined : Number(value);
  }

  async advance(view: string, endMillis: number): Promise<void> {
    await this.#redis.run((c) => c.eval(ADVANCE_SCRIPT, 1, this.#key, view, String(endMillis)));
  }

  close(): Promise<void> {
    return this.#redis.close();
  }
}

/** A short stable name of a view version for the state (`name@version`). */
export function materializeKey(view: RegisteredView): string {
  return `${view.name}@${view.version}`;
}

/** One view's share of a Materialize call. */
export interface MaterializeTask {
  readonly view: RegisteredView;
  readonly startMillis: number;
  readonly endMillis: number;
}

/** Progress of a task; `done` once the whole view is copied. */
export interface MaterializeTaskProgress extends MaterializeProgressEvent {
  readonly task: MaterializeTask;
  readonly done: boolean;
}

/** Runs tasks in order: in this process (embedded) or as jobs on the writers (cluster mode). */
export type MaterializeRunner = (
  tasks: readonly MaterializeTask[],
  signal: AbortSignal,
) => AsyncIterable<MaterializeTaskProgress>;

/** The runner of a server that reaches the offline store itself. */
export function inProcessRunner(offline: OfflineStore | undefined, online: OnlineStore): MaterializeRunner {
  return async function* (tasks, signal) {
    if (!offline) throw new TesseraError('UNAVAILABLE', 'Materialize: this server runs without an offline store');
    const now = Date.now();
    for (const task of tasks) {
      let last: MaterializeProgressEvent = { rowsRead: 0, rowsWritten: 0 };
      for await (const progress of materializeView({ offline, online, ...task, signal, nowMillis: now })) {
        last = progress;
        yield { task, ...progress, done: false };
      }
      yield { task, ...last, done: true };
    }
  };
}

/**
 * Streams a Materialize call: each named view (latest version unless `name@version`) in turn,
 * progress as it moves and a final `done` message per view; a view's materialized point advances
 * once it is done. A failure ends the stream with an error status (views finished before it keep
 * their progress).
 */
export function streamMaterialize(
  call: ServerWritableStream<MaterializeRequest, MaterializeProgress>,
  viewOf: (ref: string) => RegisteredView,
  runner: MaterializeRunner,
  state: MaterializeState,
  maxEventTimeSkewMillis: number,
  /** The lane Materialize calls take a slot of; unbounded without one. */
  lane?: Lane,
): void {
  const abort = new AbortController();
  call.on('cancelled', () => abort.abort());
  let release = (): void => undefined;
  const run = async (): Promise<void> => {
    if (lane !== undefined) release = lane.enter();
    const request = call.request;
    if (request.featureViews.length === 0) {
      throw new TesseraError('INVALID_ARGUMENT', 'Materialize: name at least one feature view');
    }
    const views = request.featureViews.map((ref) => viewOf(ref));
    const endMillis = materializeEndMillis(request, Date.now(), maxEventTimeSkewMillis);
    const tasks: MaterializeTask[] = [];
    for (const view of views) {
      const startMillis = request.incremental
        ? ((await state.get(materializeKey(view))) ?? 0)
        : Number(request.startTime);
      tasks.push({ view, startMillis: Math.min(startMillis, endMillis), endMillis });
    }
    for await (const progress of runner(tasks, abort.signal)) {
      const label = materializeKey(progress.task.view);
      if (progress.done) await state.advance(label, progress.task.endMillis);
      const message = {
        featureView: label,
        rowsRead: BigInt(progress.rowsRead),
        rowsWritten: BigInt(progress.rowsWritten),
        done: progress.done,
      };
      if (!call.write(message)) {
        // A cancelled call never drains: stop waiting then.
        await new Promise<void>((resolve) => {
          call.once('drain', resolve);
          abort.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
      if (abort.signal.aborted) return;
    }
    call.end();
  };
  run()
    .catch((error: unknown) => {
      abort.abort();
      call.emit('error', toGrpcStatus(error));
    })
    .finally(() => release());
}

/** The runner of a cluster-mode server: the writers run the parts as BullMQ jobs. */
export function queuedRunner(materializer: BullmqMaterializer): MaterializeRunner {
  return async function* (tasks, signal) {
    const byLabel = new Map(tasks.map((task) => [materializeKey(task.view), task]));
    const requests = tasks.map((task) => ({
      view: task.view.name,
      version: task.view.version,
      startMillis: task.startMillis,
      endMillis: task.endMillis,
    }));
    for await (const progress of materializer.run(requests, signal)) {
      const task = byLabel.get(`${progress.view}@${progress.version}`);
      if (task === undefined)
        throw new TesseraError('INTERNAL', `materialize: progress of an unknown view ${progress.view}`);
      yield { task, rowsRead: progress.rowsRead, rowsWritten: progress.rowsWritten, done: progress.done };
    }
  };
}
