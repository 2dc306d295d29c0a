import { isTesseraError } from '@tessera/core';
import type { OfflineStore, OnlineStore } from '@tessera/core';
import type { TesseraMetrics } from '@tessera/telemetry';

/**
 * A store failed, as opposed to refusing a request: unreachable, timed out, or broken. A refusal
 * of the input (bad SQL, an unknown table, a limit) is the caller's and is not counted.
 */
function isStoreFailure(error: unknown): boolean {
  return !isTesseraError(error) || ['UNAVAILABLE', 'INTERNAL', 'DEADLINE_EXCEEDED'].includes(error.code);
}

/** Counts each failure of `work` under `store` and `operation`, and rethrows it. */
async function counted<T>(
  metrics: TesseraMetrics,
  store: 'online' | 'offline',
  operation: string,
  work: Promise<T>,
): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (isStoreFailure(error)) metrics.recordStoreError(store, operation);
    throw error;
  }
}

async function* countedIterable<T>(
  metrics: TesseraMetrics,
  operation: string,
  iterable: AsyncIterable<T>,
): AsyncGenerator<T> {
  try {
    yield* iterable;
  } catch (error) {
    if (isStoreFailure(error)) metrics.recordStoreError('offline', operation);
    throw error;
  }
}

/** The online store as the handlers see it: every failure of a read, write or ping counted. */
export function meteredOnlineStore(store: OnlineStore, metrics: TesseraMetrics | undefined): OnlineStore {
  if (metrics === undefined) return store;
  return {
    read: (lookups, options) => counted(metrics, 'online', 'read', store.read(lookups, options)),
    write: (batch, options) => counted(metrics, 'online', 'write', store.write(batch, options)),
    ...(store.writeRebuilt === undefined
      ? {}
      : {
          writeRebuilt: (batch, options) =>
            counted(metrics, 'online', 'write_rebuilt', store.writeRebuilt!(batch, options)),
        }),
    ping: () => counted(metrics, 'online', 'ping', store.ping()),
    close: () => store.close(),
  };
}

/** The offline store as the handlers see it: every failure of an insert, query or ping counted. */
export function meteredOfflineStore(
  store: OfflineStore | undefined,
  metrics: TesseraMetrics | undefined,
): OfflineStore | undefined {
  if (store === undefined || metrics === undefined) return store;
  return {
    ensureTables: (views) => counted(metrics, 'offline', 'ensure_tables', store.ensureTables(views)),
    insert: (view, batch, options) => counted(metrics, 'offline', 'insert', store.insert(view, batch, options)),
    latestRows: (view, range) => countedIterable(metrics, 'latest_rows', store.latestRows(view, range)),
    historical: (request) => countedIterable(metrics, 'historical', store.historical(request)),
    ...(store.eventRows === undefined
      ? {}
      : { eventRows: (view, range) => countedIterable(metrics, 'event_rows', store.eventRows!(view, range)) }),
    ...(store.checkEntitySource === undefined
      ? {}
      : {
          checkEntitySource: (source) =>
            counted(metrics, 'offline', 'check_entity_source', store.checkEntitySource!(source)),
        }),
    ...(store.checkSqlView === undefined
      ? {}
      : {
          checkSqlView: (view, reads) =>
            counted(metrics, 'offline', 'check_sql_view', store.checkSqlView!(view, reads)),
        }),
    ...(store.refreshSqlView === undefined
      ? {}
      : {
          refreshSqlView: (view, interval, options) =>
            counted(metrics, 'offline', 'refresh_sql_view', store.refreshSqlView!(view, interval, options)),
        }),
    close: () => store.close(),
  };
}
