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
  type OfflineInsertOptions,
  type OfflineStore,
  type RegisteredView,
  type RegistryState,
  type SqlViewInterval,
  type SqlViewRefreshOptions,
} from '@tessera/core';

/**
 * Every version of every view the registry knows that has a table (deleted views too: their data
 * stays readable). On-demand views store nothing.
 */
export function allViewVersions(state: RegistryState): RegisteredView[] {
  return [...state.featureViews.values()].flatMap((lineage) => lineage.versions.filter((v) => v.kind !== 'on_demand'));
}

/**
 * An offline store that keeps its tables in step with the registry: a view version's table (and
 * columns added compatibly since) exists before anything is written to or read from it, even when
 * another server applied the change. Ensuring is free once a version's current shape is known.
 */
export class TableEnsuringOfflineStore implements OfflineStore {
  readonly #store: OfflineStore;
  /** `id.version` → updatedAtMillis of the shape already ensured. */
  readonly #ensured = new Map<string, number>();

  constructor(store: OfflineStore) {
    this.#store = store;
  }

  async ensureTables(views: readonly RegisteredView[]): Promise<void> {
    const missing = views.filter((v) => this.#ensured.get(`${v.id}.${v.version}`) !== v.updatedAtMillis);
    if (missing.length === 0) return;
    await this.#store.ensureTables(missing);
    for (const v of missing) this.#ensured.set(`${v.id}.${v.version}`, v.updatedAtMillis);
  }

  async insert(view: RegisteredView, batch: OfflineBatch, options?: OfflineInsertOptions): Promise<void> {
    await this.ensureTables([view]);
    await this.#store.insert(view, batch, options);
  }

  async *latestRows(view: RegisteredView, range: LatestRowsRange): AsyncIterable<OfflineRow[]> {
    await this.ensureTables([view]);
    yield* this.#store.latestRows(view, range);
  }

  async *eventRows(view: RegisteredView, range: EventRowsRange): AsyncIterable<OfflineEventRow[]> {
    if (this.#store.eventRows === undefined) {
      throw new TesseraError(
        'UNIMPLEMENTED',
        `rebuild ${view.name}@${view.version}: this offline store cannot list events`,
      );
    }
    await this.ensureTables([view]);
    yield* this.#store.eventRows(view, range);
  }

  async *historical(request: HistoricalRequest): AsyncIterable<HistoricalChunk> {
    await this.ensureTables(request.features.views.map((v) => v.view));
    yield* this.#store.historical(request);
  }

  async checkEntitySource(source: EntitySourceDef): Promise<void> {
    await this.#store.checkEntitySource?.(source);
  }

  async checkSqlView(view: RegisteredView, reads: readonly RegisteredView[]): Promise<void> {
    if (this.#store.checkSqlView === undefined) throw sqlViewsUnsupported(view);
    await this.#store.checkSqlView(view, reads);
  }

  async refreshSqlView(view: RegisteredView, interval: SqlViewInterval, options: SqlViewRefreshOptions): Promise<void> {
    if (this.#store.refreshSqlView === undefined) throw sqlViewsUnsupported(view);
    await this.ensureTables([view]);
    await this.#store.refreshSqlView(view, interval, options);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}

/** An offline store that cannot run SQL views. */
function sqlViewsUnsupported(view: RegisteredView): TesseraError {
  return new TesseraError(
    'UNAVAILABLE',
    `SQL view ${view.name}: this server's offline store cannot run SQL views; use the embedded store, a ClickHouse server or an offline server`,
  );
}
