/**
 * Starts the refresh of SQL views on their schedules (design §5.1).
 * - Embedded: a timer in this process (`SqlViewTimer`), its progress in LMDB through
 *   MaterializeState; each failure is logged and the interval retried on the next pass.
 * - Cluster mode: one BullMQ job scheduler per SQL view version, run by the writers; this server
 *   keeps the schedulers in step with the registry (at start and whenever its sequence moves,
 *   checked every few seconds; every server does it, idempotently).
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
import { BullmqSqlRefreshScheduler } from '@tessera/writebehind';
import type { BackendOptions } from './backends.js';

/** How often a cluster-mode server checks the registry for SQL view changes. */
const SCHEDULE_SYNC_INTERVAL_MILLIS = 5_000;

/** The scheduler of a server; `close` stops it (waiting for a pass in progress). */
export interface SqlViewScheduler {
  close(): Promise<void>;
}

/** Starts the embedded timer or the cluster-mode scheduler sync. */
export function startSqlViewScheduler(
  backend: BackendOptions,
  stores: { readonly offline: OfflineStore | undefined; readonly online: OnlineStore },
  backends: { readonly materializeState: MaterializeState; readonly registry: Registry },
  parentLogger: Logger,
): SqlViewScheduler {
  const logger = parentLogger.child({ component: 'sql-views' });
  const sqlViews = () => listLatestViews(backends.registry.state()).filter((v) => v.kind === 'sql');
  if (backend.kind === 'redis-cluster') return startClusterSync(backend, sqlViews, backends.registry, logger);
  const { offline } = stores;
  if (offline === undefined) return { close: () => Promise.resolve() };
  const timer = new SqlViewTimer({
    offline,
    online: stores.online,
    state: backends.materializeState,
    views: sqlViews,
    report: (result) =>
      logger.warn(
        { view: result.view, err: result.error },
        `SQL view ${result.view}: refresh failed (retried on the next pass): ${result.error instanceof Error ? result.error.message : String(result.error)}`,
      ),
  });
  timer.start();
  return { close: () => timer.close() };
}

function startClusterSync(
  backend: Extract<BackendOptions, { kind: 'redis-cluster' }>,
  sqlViews: () => ReturnType<typeof listLatestViews>,
  registry: Registry,
  logger: Logger,
): SqlViewScheduler {
  const scheduler = new BullmqSqlRefreshScheduler({
    nodes: backend.nodes,
    redis: backend.redis,
    ...(backend.keyPrefix === undefined ? {} : { keyPrefix: backend.keyPrefix }),
    logger,
  });
  let synced = -1;
  let running: Promise<void> | undefined;
  const sync = async (): Promise<void> => {
    const sequence = registry.state().sequence;
    if (sequence === synced) return;
    try {
      await scheduler.sync(
        sqlViews().map((v) => ({
          view: v.name,
          version: v.version,
          everyMillis: v.sql?.everyMillis ?? 0,
          delayMillis: v.sql?.delayMillis ?? 0,
        })),
      );
      synced = sequence;
    } catch (error) {
      logger.warn(
        { err: error },
        `SQL views: keeping the refresh schedules in step failed (retried): ${String(error)}`,
      );
    }
  };
  const pass = (): void => {
    running ??= sync().finally(() => (running = undefined));
  };
  pass();
  const timer = setInterval(pass, SCHEDULE_SYNC_INTERVAL_MILLIS);
  timer.unref();
  return {
    close: async () => {
      clearInterval(timer);
      await running;
      await scheduler.close();
    },
  };
}
