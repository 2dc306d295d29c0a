/**
 * The handlers of `tessera.offline.v1.OfflineStore`: each request is read back into the port's
 * types (views checked as definitions, columns checked against them) and run on the store the
 * offline server owns. A cancelled call or its deadline aborts the query behind it.
 */
import type { ServerUnaryCall, ServerWritableStream, sendUnaryData, ServiceError } from '@grpc/grpc-js';
import { TesseraError, type OfflineStore, type RegisteredView } from '@tessera/core';
import type {
  CheckEntitySourceRequest,
  CheckEntitySourceResponse,
  CheckSqlViewRequest,
  CheckSqlViewResponse,
  EnsureTablesRequest,
  EnsureTablesResponse,
  EventRowsBatch,
  EventRowsRequest,
  HistoricalChunk,
  HistoricalRequest,
  InsertRequest,
  InsertResponse,
  LatestRowsBatch,
  LatestRowsRequest,
  OfflineStoreServer,
  PingRequest,
  PingResponse,
  RefreshSqlViewRequest,
  RefreshSqlViewResponse,
} from '@tessera/proto';
import { toOfflineStatus } from './status.js';
import { fromInsertRequest, toLatestRowsBatch } from './rows.js';
import { fromWireHistorical, toWireChunk } from './historical.js';
import { fromWireEntitySource, fromWireView } from './views.js';
import { eventRowsRangeOf, toEventRowsBatch } from './event-rows.js';
import { checkSqlViewRequestOf, refreshSqlViewRequestOf } from './sql-views.js';
import { checkBatchRows, checkDedupToken, checkPart, clampedRange } from './bounds.js';

/** What the handlers need besides the store. */
export interface OfflineStoreServiceOptions {
  /** Answers once the engine answers a trivial query (`SELECT 1`). */
  readonly ping: () => Promise<void>;
  /** Most rows an entity SELECT or view entity set may produce, whatever the caller asks. Default: the store's. */
  readonly maxEntitySetRows?: number;
  /** Receives what a handler threw that is not a TesseraError (a bug), before INTERNAL is answered. */
  readonly onInternalError: (error: unknown, method: string) => void;
}

/** Most view versions one EnsureTables may name. */
export const MAX_ENSURE_VIEWS = 10_000;

/** The service implementation over `store`. */
export function createOfflineStoreService(
  store: OfflineStore,
  options: OfflineStoreServiceOptions,
): OfflineStoreServer {
  const fail = (method: string) => (error: unknown) =>
    toOfflineStatus(error, (internal) => options.onInternalError(internal, method)) as Partial<ServiceError>;
  const unary =
    <Req, Res>(method: string, work: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      Promise.resolve()
        .then(() => work(call.request, call))
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(fail(method)(error)),
        );
    };
  return {
    ensureTables: unary<EnsureTablesRequest, EnsureTablesResponse>('EnsureTables', async (request) => {
      if (request.views.length > MAX_ENSURE_VIEWS) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `EnsureTables: ${request.views.length} views exceed the limit of ${MAX_ENSURE_VIEWS}`,
        );
      }
      await store.ensureTables(request.views.map((v, i) => fromWireView(v, `EnsureTables.views[${i}]`)));
      return {};
    }),
    insert: unary<InsertRequest, InsertResponse>('Insert', async (request, call) => {
      const view = fromWireView(request.view, 'Insert.view');
      const label = `Insert into ${view.name}@${view.version}`;
      if (view.kind === 'sql' || view.kind === 'on_demand') {
        throw new TesseraError(
          'FAILED_PRECONDITION',
          `${label}: ${view.kind === 'sql' ? 'an SQL view is computed by its SELECT' : 'an on-demand view stores nothing'}; it takes no inserts`,
        );
      }
      const dedupToken = request.dedupToken === '' ? undefined : checkDedupToken(request.dedupToken, label);
      const batch = fromInsertRequest(view, request);
      const deadlineMillis = deadlineOf(call);
      await store.insert(view, batch, {
        ...(dedupToken === undefined ? {} : { dedupToken }),
        ...(deadlineMillis === undefined ? {} : { deadlineMillis }),
      });
      return {};
    }),
    checkEntitySource: unary<CheckEntitySourceRequest, CheckEntitySourceResponse>(
      'CheckEntitySource',
      async (request) => {
        await store.checkEntitySource?.(fromWireEntitySource(request.source, 'CheckEntitySource.source'));
        return {};
      },
    ),
    checkSqlView: unary<CheckSqlViewRequest, CheckSqlViewResponse>('CheckSqlView', async (request) => {
      const { view, reads } = checkSqlViewRequestOf(request);
      await sqlViewsOf(store, view).checkSqlView(view, reads);
      return {};
    }),
    refreshSqlView: unary<RefreshSqlViewRequest, RefreshSqlViewResponse>('RefreshSqlView', async (request, call) => {
      const { view, interval, dedupToken } = refreshSqlViewRequestOf(request);
      const abort = abortOnCancel(call);
      await sqlViewsOf(store, view).refreshSqlView(view, interval, { dedupToken, signal: abort.signal });
      return {};
    }),
    ping: unary<PingRequest, PingResponse>('Ping', async () => {
      await options.ping();
      return {};
    }),
    latestRows: (call: ServerWritableStream<LatestRowsRequest, LatestRowsBatch>) => {
      const abort = abortOnCancel(call);
      const run = async (): Promise<void> => {
        const request = call.request;
        const view = fromWireView(request.view, 'LatestRows.view');
        const label = `LatestRows of ${view.name}@${view.version}`;
        const part = checkPart(request.partIndex, request.partCount, label);
        const range = clampedRange(request.startMillis, request.endMillis, label);
        // A range wholly outside what DateTime64 holds: no row can lie in it.
        if (range.startMillis >= range.endMillis) {
          call.end();
          return;
        }
        const rows = store.latestRows(view, {
          ...range,
          batchRows: checkBatchRows(request.batchRows, label),
          ...(part === undefined ? {} : { part }),
          signal: abort.signal,
        });
        for await (const batch of rows) {
          if (abort.signal.aborted) return;
          await send(call, toLatestRowsBatch(view, batch));
        }
        call.end();
      };
      run().catch((error: unknown) => {
        abort.abort();
        call.emit('error', fail('LatestRows')(error));
      });
    },
    eventRows: (call: ServerWritableStream<EventRowsRequest, EventRowsBatch>) => {
      const abort = abortOnCancel(call);
      const run = async (): Promise<void> => {
        const view = fromWireView(call.request.view, 'EventRows.view');
        const range = eventRowsRangeOf(call.request, view, abort.signal);
        if (store.eventRows === undefined) {
          throw new TesseraError('UNIMPLEMENTED', `EventRows of ${view.name}: this offline store cannot list events`);
        }
        for await (const batch of store.eventRows(view, range)) {
          if (abort.signal.aborted) return;
          await send(call, toEventRowsBatch(view, batch));
        }
        call.end();
      };
      run().catch((error: unknown) => {
        abort.abort();
        call.emit('error', fail('EventRows')(error));
      });
    },
    historical: (call: ServerWritableStream<HistoricalRequest, HistoricalChunk>) => {
      const abort = abortOnCancel(call);
      const run = async (): Promise<void> => {
        const request = fromWireHistorical(call.request);
        const limit = options.maxEntitySetRows;
        const maxEntityRows =
          limit === undefined ? request.maxEntityRows : Math.min(request.maxEntityRows ?? limit, limit);
        const deadlineMillis = deadlineOf(call);
        const chunks = store.historical({
          ...request,
          ...(maxEntityRows === undefined ? {} : { maxEntityRows }),
          ...(deadlineMillis === undefined ? {} : { deadlineMillis }),
          signal: abort.signal,
        });
        for await (const chunk of chunks) {
          if (abort.signal.aborted) return;
          await send(call, toWireChunk(chunk));
        }
        call.end();
      };
      run().catch((error: unknown) => {
        abort.abort();
        call.emit('error', fail('Historical')(error));
      });
    },
  };
}

/** The store's SQL view methods; UNIMPLEMENTED naming the view when it has none. */
function sqlViewsOf(
  store: OfflineStore,
  view: RegisteredView,
): Required<Pick<OfflineStore, 'checkSqlView' | 'refreshSqlView'>> {
  if (store.checkSqlView === undefined || store.refreshSqlView === undefined) {
    throw new TesseraError('UNIMPLEMENTED', `SQL view ${view.name}: this offline store cannot run SQL views`);
  }
  return { checkSqlView: store.checkSqlView.bind(store), refreshSqlView: store.refreshSqlView.bind(store) };
}

/** What unary and streaming calls share (grpc-js does not export its name). */
type SurfaceCall = Pick<ServerUnaryCall<unknown, unknown>, 'getDeadline' | 'on'>;

/** The call's deadline as ms since the epoch, when it has a finite one. */
function deadlineOf(call: SurfaceCall): number | undefined {
  const deadline = call.getDeadline();
  const millis = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(millis) ? millis : undefined;
}

/** Aborts when the caller cancels or its deadline passes (grpc-js reports both as 'cancelled'). */
function abortOnCancel(call: SurfaceCall): AbortController {
  const abort = new AbortController();
  call.on('cancelled', () => abort.abort());
  return abort;
}

/** Writes one message, waiting for the stream to drain when the caller reads slower. */
async function send<T>(call: ServerWritableStream<unknown, T>, message: T): Promise<void> {
  if (!call.write(message)) await new Promise<void>((resolve) => call.once('drain', resolve));
}
