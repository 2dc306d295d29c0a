/**
 * The Materialize RPC: copies the latest offline value of every entity with an event in a time range
 * to the online store (`@tessera/materialize`). Incremental runs start where the previous run of the
 * view ended (core's MaterializeState port). Progress streams per batch.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import {
  TesseraError,
  type MaterializeState,
  type OfflineStore,
  type OnlineStore,
  type RegisteredView,
} from '@tessera/core';
import {
  backfillSqlView,
  materializeKey,
  rebuildViewAggregations,
  type MaterializeRunner,
  type MaterializeTask,
  type RebuildBarrier,
} from '@tessera/materialize';
import type { MaterializeProgress, MaterializeRequest } from '@tessera/proto';
import { toGrpcStatus } from './grpc-status.js';
import { materializeEndMillis } from './materialize-range.js';
import type { Lane } from './lanes.js';
import type { TileGenerations } from './tile-generations.js';

/**
 * Streams a Materialize call: each named view (latest version unless `name@version`) in turn,
 * progress as it moves and a final `done` message per view; a view's materialized point advances
 * once it is done. A failure ends the stream with an error status (views finished before it keep
 * their progress).
 *
 * An SQL view is backfilled instead (design §5.1): its rows in the range are computed offline day
 * by day by its SELECT in this process (resumable: a rerun of the same range continues after the
 * last whole day), then copied online. While days are computed, progress messages name
 * `sql:<view>@<n>` with rows_read = days computed and rows_written = days in the range; then the
 * online copy reports under `<view>@<n>` as any view's.
 */
export function streamMaterialize(
  call: ServerWritableStream<MaterializeRequest, MaterializeProgress>,
  viewOf: (ref: string) => RegisteredView,
  runner: MaterializeRunner,
  state: MaterializeState,
  maxEventTimeSkewMillis: number,
  /** The lane Materialize calls take a slot of; unbounded without one. */
  lane?: Lane,
  /**
   * The stores an SQL view's backfill computes and copies with (in this process), and a tile
   * rebuild (`aggregations`) reads and writes with, switching `tileGenerations` when it completes.
   */
  sqlStores?: {
    readonly offline: OfflineStore | undefined;
    readonly online: OnlineStore;
    readonly tileGenerations?: TileGenerations;
    readonly clock?: () => number;
    /** The rebuild's barrier (design §3.6 step 2; `rebuild-barrier.ts`). */
    readonly rebuildBarrier?: RebuildBarrier;
  },
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
    const computed = views.find((v) => v.kind === 'on_demand');
    if (computed !== undefined) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `Materialize: ${computed.name} is an on-demand view: it stores nothing (its features are computed at read time)`,
      );
    }
    // A tile rebuild reads every event of the view: the range is not used (nor checked).
    const endMillis = request.aggregations ? 0 : materializeEndMillis(request, Date.now(), maxEventTimeSkewMillis);
    const tasks: MaterializeTask[] = [];
    const write = async (message: MaterializeProgress): Promise<void> => {
      if (!call.write(message)) {
        // A cancelled call never drains: stop waiting then.
        await new Promise<void>((resolve) => {
          call.once('drain', resolve);
          abort.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    };
    // Design §3.6/§4.4: each view's tiles rebuilt from its offline events into the next generation.
    const rebuildAll = async (list: readonly RegisteredView[]): Promise<void> => {
      const offline = sqlStores?.offline;
      if (offline === undefined || sqlStores === undefined) {
        throw new TesseraError('UNAVAILABLE', 'Materialize --aggregations: this server runs without an offline store');
      }
      for (const view of list) {
        if (view.kind !== 'events' || (view.aggregations?.length ?? 0) === 0) {
          throw new TesseraError(
            'INVALID_ARGUMENT',
            `Materialize --aggregations: ${view.name}@${view.version} is not an event view with window aggregations`,
          );
        }
      }
      for (const view of list) {
        const label = materializeKey(view);
        for await (const progress of rebuildViewAggregations({
          offline,
          online: sqlStores.online,
          state,
          view,
          nowMillis: sqlStores.clock?.() ?? Date.now(),
          signal: abort.signal,
          ...(sqlStores.rebuildBarrier === undefined ? {} : { barrier: sqlStores.rebuildBarrier }),
        })) {
          if (progress.done) sqlStores.tileGenerations?.set(view, progress.generation);
          await write({
            featureView: label,
            rowsRead: BigInt(progress.eventsRead),
            rowsWritten: BigInt(progress.entitiesWritten),
            done: progress.done,
            partsDone: progress.partsDone,
            parts: progress.parts,
          });
          if (abort.signal.aborted) return;
        }
      }
    };
    const backfill = async (
      view: RegisteredView,
      startMillis: number,
      end: number,
      send: (message: MaterializeProgress) => Promise<void>,
    ): Promise<void> => {
      if (sqlStores?.offline === undefined) {
        throw new TesseraError(
          'UNAVAILABLE',
          `Materialize: SQL view ${view.name} needs an offline store to compute its rows`,
        );
      }
      const label = materializeKey(view);
      for await (const progress of backfillSqlView({
        offline: sqlStores.offline,
        online: sqlStores.online,
        state,
        view,
        startMillis,
        endMillis: end,
        signal: abort.signal,
      })) {
        await send(
          progress.phase === 'offline'
            ? {
                featureView: `sql:${label}`,
                rowsRead: BigInt(progress.daysDone),
                rowsWritten: BigInt(progress.daysTotal),
                done: false,
                partsDone: 0,
                parts: 0,
              }
            : {
                featureView: label,
                rowsRead: BigInt(progress.rowsRead),
                rowsWritten: BigInt(progress.rowsWritten),
                done: progress.done,
                partsDone: 0,
                parts: 0,
              },
        );
        if (abort.signal.aborted) return;
      }
    };
    if (request.aggregations) {
      await rebuildAll(views);
      if (!abort.signal.aborted) call.end();
      return;
    }
    for (const view of views) {
      if (view.kind === 'sql') {
        if (request.incremental) {
          throw new TesseraError(
            'INVALID_ARGUMENT',
            `Materialize: ${view.name} is an SQL view: backfill it over a range (start_time, end_time); its schedule refreshes it incrementally`,
          );
        }
        await backfill(view, Number(request.startTime), endMillis, write);
        if (abort.signal.aborted) return;
        continue;
      }
      const startMillis = request.incremental
        ? ((await state.get(materializeKey(view))) ?? 0)
        : Number(request.startTime);
      tasks.push({ view, startMillis: Math.min(startMillis, endMillis), endMillis });
    }
    for await (const progress of runner(tasks, abort.signal)) {
      const label = materializeKey(progress.task.view);
      if (progress.done) await state.advance(label, progress.task.endMillis);
      await write({
        featureView: label,
        rowsRead: BigInt(progress.rowsRead),
        rowsWritten: BigInt(progress.rowsWritten),
        done: progress.done,
        partsDone: 0,
        parts: 0,
      });
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
