/**
 * Materialize: copy the latest offline value of every entity with an event in a time range to the
 * online store. The online write is last-writer-wins by event time, so a fresher online value is
 * never overwritten. Incremental runs start where the previous run of the view ended (kept per view
 * version beside the online rows). Progress streams per batch.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Database } from 'lmdb';
import { Cluster } from 'ioredis';
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
import type { MaterializeProgress, MaterializeRequest } from '@tessera/proto';
import { toGrpcStatus } from './grpc-status.js';

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
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  for await (const rows of batches) {
    rowsRead += rows.length;
    const result = await online.write({
      field,
      ttlMillis,
      keys: rows.map((row) => entityKey(view.entities, row.keys)),
      rows: rows.map((row) => encoder.encode(row.eventTsMillis, row.features)),
    });
    rowsWritten += result.applied;
    yield { rowsRead, rowsWritten };
  }
  if (rowsRead === 0) yield { rowsRead, rowsWritten };
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
  readonly #cluster: Cluster;
  readonly #key: string;

  constructor(nodes: readonly { readonly host: string; readonly port: number }[], keyPrefix: string) {
    this.#cluster = new Cluster(
      nodes.map(({ host, port }) => ({ host, port })),
      { redisOptions: { connectTimeout: 1_000, commandTimeout: 2_000, maxRetriesPerRequest: 1 } },
    );
    this.#cluster.on('error', () => undefined);
    this.#key = `${keyPrefix}{tessera:materialized}`;
  }

  async get(view: string): Promise<number | undefined> {
    const value = await this.#guard(() => this.#cluster.hget(this.#key, view));
    return value === null ? undefined : Number(value);
  }

  async advance(view: string, endMillis: number): Promise<void> {
    await this.#guard(() => this.#cluster.eval(ADVANCE_SCRIPT, 1, this.#key, view, String(endMillis)));
  }

  async close(): Promise<void> {
    await this.#cluster.quit().catch(() => this.#cluster.disconnect());
  }

  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new TesseraError(
        'UNAVAILABLE',
        `materialization points on the Redis Cluster unreachable (${(error as Error).message})`,
        { cause: error },
      );
    }
  }
}

/** A short stable name of a view version for the state (`name@version`). */
export function materializeKey(view: RegisteredView): string {
  return `${view.name}@${view.version}`;
}

/** The stores one Materialize call uses. */
export interface MaterializeStores {
  readonly offline: OfflineStore | undefined;
  readonly online: OnlineStore;
  readonly state: MaterializeState;
}

/**
 * Streams a Materialize call: each named view (latest version unless `name@version`) in turn,
 * progress after every batch and a final `done` message per view; the view's point advances
 * once it is done. A failure ends the stream with an error status (views finished before it keep
 * their progress).
 */
export function streamMaterialize(
  call: ServerWritableStream<MaterializeRequest, MaterializeProgress>,
  viewOf: (ref: string) => RegisteredView,
  stores: MaterializeStores,
): void {
  const abort = new AbortController();
  call.on('cancelled', () => abort.abort());
  const run = async (): Promise<void> => {
    const { offline } = stores;
    if (!offline) throw new TesseraError('UNAVAILABLE', 'Materialize: this server runs without an offline store');
    const request = call.request;
    if (request.featureViews.length === 0) {
      throw new TesseraError('INVALID_ARGUMENT', 'Materialize: name at least one feature view');
    }
    const views = request.featureViews.map((ref) => viewOf(ref));
    const now = Date.now();
    const explicitEnd = Number(request.endTime);
    if (!request.incremental) {
      const start = Number(request.startTime);
      const end = explicitEnd === 0 ? now : explicitEnd;
      if (!(start < end)) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `Materialize: start_time (${start}) must be before end_time (${end}); use incremental to continue from the last run`,
        );
      }
    }
    for (const view of views) {
      const label = materializeKey(view);
      const startMillis = request.incremental ? ((await stores.state.get(label)) ?? 0) : Number(request.startTime);
      const endMillis = request.incremental || explicitEnd === 0 ? now : explicitEnd;
      let last: MaterializeProgressEvent = { rowsRead: 0, rowsWritten: 0 };
      if (startMillis < endMillis) {
        for await (const progress of materializeView({
          offline,
          online: stores.online,
          view,
          startMillis,
          endMillis,
          signal: abort.signal,
          nowMillis: now,
        })) {
          last = progress;
          const message = {
            featureView: label,
            rowsRead: BigInt(progress.rowsRead),
            rowsWritten: BigInt(progress.rowsWritten),
            done: false,
          };
          if (!call.write(message)) await new Promise<void>((resolve) => call.once('drain', resolve));
          if (abort.signal.aborted) return;
        }
        await stores.state.advance(label, endMillis);
      }
      call.write({
        featureView: label,
        rowsRead: BigInt(last.rowsRead),
        rowsWritten: BigInt(last.rowsWritten),
        done: true,
      });
    }
    call.end();
  };
  run().catch((error: unknown) => {
    abort.abort();
    call.emit('error', toGrpcStatus(error));
  });
}
