/**
 * The offline store on ClickHouse: one table per feature view version, one insert per batch,
 * point-in-time joins for training sets. The same class runs on chDB (embedded) and on a
 * ClickHouse server or cluster over HTTP; only the executor differs.
 */
import { join } from 'node:path';
import {
  TesseraError,
  type EntitySourceDef,
  type HistoricalChunk,
  type HistoricalRequest,
  type EventRowsRange,
  type LatestRowsRange,
  type OfflineEventRow,
  type OfflineRow,
  type OfflineBatch,
  type OfflineStore,
  type RegisteredView,
  type SqlViewInterval,
  type SqlViewRefreshOptions,
} from '@tessera/core';
import type { ClickHouseExecutor } from './executor.js';
import { ChdbExecutor, type ChdbExecutorOptions } from './chdb-executor.js';
import { HttpExecutor, type HttpExecutorOptions } from './http-executor.js';
import { assertIdentifier, createDatabaseSql, type ClusterOptions, type DdlOptions } from './ddl.js';
import { insertOfflineBatch, type InsertBatchOptions } from './insert.js';
import { ensureViewTables } from './migrate.js';
import { runHistorical } from './historical/run.js';
import { checkEntitySource } from './historical/entity-source.js';
import { checkSqlView, refreshSqlView } from './sql-view.js';
import { DEFAULT_HISTORICAL_QUERY_LIMITS, type HistoricalQueryLimits } from './historical/limits.js';
import { latestRowsQuery } from './latest-rows.js';
import { eventRowsQuery } from './event-rows.js';
import { readOfflineRows } from './row-binary.js';

/** Database of the offline tables unless configured. */
export const DEFAULT_OFFLINE_DATABASE = 'tessera';

/** Options of {@link ClickHouseOfflineStore.open}. */
export interface ClickHouseOfflineStoreOptions {
  /** The engine; the store owns it from now on and closes it on {@link ClickHouseOfflineStore.close}. */
  readonly executor: ClickHouseExecutor;
  /** Database of the tables, created if missing. Default {@link DEFAULT_OFFLINE_DATABASE}. */
  readonly database?: string;
  /** Cluster mode (server only): Replicated tables `ON CLUSTER` behind Distributed tables. */
  readonly cluster?: ClusterOptions;
  /** Engine limits of historical queries; {@link DEFAULT_HISTORICAL_QUERY_LIMITS} unless given. */
  readonly historicalLimits?: HistoricalQueryLimits;
}

/** {@link OfflineStore} over a {@link ClickHouseExecutor}. */
export class ClickHouseOfflineStore implements OfflineStore {
  readonly executor: ClickHouseExecutor;
  readonly database: string;
  readonly #ddl: DdlOptions;
  readonly #historicalLimits: HistoricalQueryLimits;
  #closed = false;

  private constructor(options: ClickHouseOfflineStoreOptions) {
    this.executor = options.executor;
    this.database = options.database ?? DEFAULT_OFFLINE_DATABASE;
    this.#historicalLimits = options.historicalLimits ?? DEFAULT_HISTORICAL_QUERY_LIMITS;
    assertIdentifier(this.database, 'database name');
    this.#ddl =
      options.cluster === undefined
        ? { database: this.database }
        : { database: this.database, cluster: options.cluster };
  }

  /** Opens the store: creates its database if missing. Closes the executor when that fails. */
  static async open(options: ClickHouseOfflineStoreOptions): Promise<ClickHouseOfflineStore> {
    try {
      const store = new ClickHouseOfflineStore(options);
      await store.executor.command(createDatabaseSql(store.#ddl));
      return store;
    } catch (error) {
      await options.executor.close();
      throw error;
    }
  }

  ensureTables(views: readonly RegisteredView[]): Promise<void> {
    this.#assertOpen();
    return ensureViewTables(this.executor, views, this.#ddl);
  }

  insert(view: RegisteredView, batch: OfflineBatch, options: InsertBatchOptions = {}): Promise<void> {
    this.#assertOpen();
    if (this.#ddl.cluster === undefined) return insertOfflineBatch(this.executor, this.database, view, batch, options);
    // Insert synchronously into the shards, so the deduplication token reaches the replicated tables.
    const settings = { distributed_foreground_insert: 1, ...options.settings };
    return insertOfflineBatch(this.executor, this.database, view, batch, { ...options, settings });
  }

  async *latestRows(view: RegisteredView, range: LatestRowsRange): AsyncGenerator<OfflineRow[], void, undefined> {
    this.#assertOpen();
    const { sql, params } = latestRowsQuery(this.database, view, range);
    yield* readOfflineRows(
      this.executor.queryStream(sql, params, {
        format: 'RowBinary',
        ...(range.signal === undefined ? {} : { signal: range.signal }),
      }),
      view.joinKeys.map((key) => key.type),
      view.features.map((feature) => feature.type),
      range.batchRows,
    );
  }

  async *eventRows(view: RegisteredView, range: EventRowsRange): AsyncGenerator<OfflineEventRow[], void, undefined> {
    this.#assertOpen();
    const { sql, params } = eventRowsQuery(this.database, view, range);
    // The fp travels as a last string "feature" of the row reader, in hex.
    const types = [...view.features.map((feature) => feature.type), 'string' as const];
    for await (const rows of readOfflineRows(
      this.executor.queryStream(sql, params, {
        format: 'RowBinary',
        ...(range.signal === undefined ? {} : { signal: range.signal }),
      }),
      view.joinKeys.map((key) => key.type),
      types,
      range.batchRows,
    )) {
      yield rows.map((row) => {
        const text = row.features.pop();
        const fp = typeof text === 'string' ? Buffer.from(text, 'hex') : undefined;
        if (fp === undefined || fp.byteLength !== 16) {
          throw new TesseraError('INTERNAL', `rebuild ${view.name}@${view.version}: an event without a 16-byte fp`);
        }
        return { keys: row.keys, eventTsMillis: row.eventTsMillis, features: row.features, fp };
      });
    }
  }

  async *historical(request: HistoricalRequest): AsyncGenerator<HistoricalChunk, void, undefined> {
    this.#assertOpen();
    yield* runHistorical(this.executor, this.database, request, { limits: this.#historicalLimits });
  }

  async checkEntitySource(source: EntitySourceDef): Promise<void> {
    this.#assertOpen();
    await checkEntitySource(this.executor, source, this.database);
  }

  async checkSqlView(view: RegisteredView, reads: readonly RegisteredView[]): Promise<void> {
    this.#assertOpen();
    await checkSqlView(this.executor, this.database, view, reads);
  }

  async refreshSqlView(view: RegisteredView, interval: SqlViewInterval, options: SqlViewRefreshOptions): Promise<void> {
    this.#assertOpen();
    // Cluster mode: insert synchronously into the shards, so the deduplication token reaches them.
    const settings = this.#ddl.cluster === undefined ? {} : { distributed_foreground_insert: 1 };
    await refreshSqlView(this.executor, this.database, view, interval, { ...options, settings });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.executor.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new TesseraError('UNAVAILABLE', `the offline store on database ${this.database} is closed`);
  }
}

/** Options of {@link openEmbeddedOfflineStore}. */
export interface EmbeddedOfflineStoreOptions {
  readonly database?: string;
  /** Engine settings given at connect (e.g. `max_memory_usage`); see {@link ChdbExecutorOptions}. */
  readonly settings?: ChdbExecutorOptions['settings'];
}

/** The embedded offline store: chDB in this process, data under `<dataDir>/offline`. */
export function openEmbeddedOfflineStore(
  dataDir: string,
  options: EmbeddedOfflineStoreOptions = {},
): Promise<ClickHouseOfflineStore> {
  const executor = ChdbExecutor.open({
    path: join(dataDir, 'offline'),
    ...(options.settings === undefined ? {} : { settings: options.settings }),
  });
  return ClickHouseOfflineStore.open({
    executor,
    ...(options.database === undefined ? {} : { database: options.database }),
  });
}

/** Options of {@link openHttpOfflineStore}. */
export interface HttpOfflineStoreOptions extends Omit<HttpExecutorOptions, 'url'> {
  readonly database?: string;
  readonly cluster?: ClusterOptions;
}

/** The offline store on a ClickHouse server or cluster at `url` (e.g. `http://user:pass@host:8123`). */
export function openHttpOfflineStore(
  url: string,
  options: HttpOfflineStoreOptions = {},
): Promise<ClickHouseOfflineStore> {
  const { database, cluster, ...executorOptions } = options;
  return ClickHouseOfflineStore.open({
    executor: new HttpExecutor({ ...executorOptions, url }),
    ...(database === undefined ? {} : { database }),
    ...(cluster === undefined ? {} : { cluster }),
  });
}
