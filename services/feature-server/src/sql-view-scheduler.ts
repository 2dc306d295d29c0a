/**
 * Starts the refresh of SQL views on their schedules (design §5.1). Embedded: a timer in this
 * process (`SqlViewTimer`), its progress in LMDB through MaterializeState; each failure is logged
 * and the interval retried on the next pass. Cluster mode: not started here (the repeatable BullMQ
 * jobs of design §5.1 are not built yet); SQL views are computed there by a backfill (Materialize).
 */
import {
  listLatestViews,
  type Logger,
  type MaterializeState,
  type OfflineStore,
  type OnlineStore,
} from '@tessera/core';
import { SqlViewTimer } from '@tessera/materialize';
import type { Registry } from '@tessera/registry';

/** The scheduler of a server; `close` stops it (waiting for a pass in progress). */
export interface SqlViewScheduler {
  close(): Promise<void>;
}

/** Starts the embedded timer when the server has an offline store; a no-op scheduler otherwise. */
export function startSqlViewScheduler(
  kind: 'embedded' | 'redis-cluster',
  stores: { readonly offline: OfflineStore | undefined; readonly online: OnlineStore },
  backends: { readonly materializeState: MaterializeState; readonly registry: Registry },
  parentLogger: Logger,
  intervalMillis?: number,
): SqlViewScheduler {
  const { offline } = stores;
  if (kind !== 'embedded' || offline === undefined) return { close: () => Promise.resolve() };
  const logger = parentLogger.child({ component: 'sql-views' });
  const options = {
    online: stores.online,
    state: backends.materializeState,
    registry: backends.registry,
    intervalMillis,
  };
  const timer = new SqlViewTimer({
    offline,
    online: options.online,
    state: options.state,
    views: () => listLatestViews(options.registry.state()).filter((v) => v.kind === 'sql'),
    ...(options.intervalMillis === undefined ? {} : { intervalMillis: options.intervalMillis }),
    report: (result) =>
      logger.warn(
        { view: result.view, err: result.error },
        `SQL view ${result.view}: refresh failed (retried on the next pass): ${result.error instanceof Error ? result.error.message : String(result.error)}`,
      ),
  });
  timer.start();
  return { close: () => timer.close() };
}
