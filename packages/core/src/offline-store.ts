/**
 * The offline store contract: every written value kept with its event time, and point-in-time
 * correct retrieval ("what did we know about each entity at each of these moments").
 *
 * Table layout (one table per feature view version, identifiers from the registry only):
 * `fv_<view>__v<version>` with the view's join keys (Int64 / String, in `joinKeys` order),
 * `event_ts DateTime64(3, 'UTC')`, `created_ts DateTime64(6, 'UTC')`, one Nullable column per
 * scalar feature (named as the feature) and, for list features, `Array(...)` plus a
 * `<feature>__is_null UInt8` column (ClickHouse has no Nullable arrays);
 * ReplacingMergeTree(created_ts) ORDER BY (join keys, event_ts) PARTITION BY toYYYYMM(event_ts).
 * Event views (design §4.1) add `fp FixedString(16)` and `online_gen UInt32` after `created_ts`,
 * order by (join keys, event_ts, fp), and have a side table `fv_<view>__v<version>__excluded` (the
 * same columns plus `reason Enum8('late' = 1, 'future' = 2)`) for the rows a live write excluded.
 */
import type { EntitySourceDef, FeatureValue, JoinKeyValue, RegisteredView, ValueType } from './model.js';
import type { ResolvedFeatures } from './registry/refs.js';

/** A validated batch of one view version, columnar. */
export interface OfflineBatch {
  /** Per row, the join key values in `view.joinKeys` order. */
  readonly joinKeyValues: readonly (readonly JoinKeyValue[])[];
  readonly eventTsMillis: Float64Array;
  /** Per feature (in `view.features` order), one value per row. */
  readonly featureValues: readonly (readonly FeatureValue[])[];
  /**
   * Per row, when the write was accepted (µs since the epoch): among rows with the same keys and
   * event time the latest wins. Set by write-behind, which stamps each write when it is
   * acknowledged, not when it reaches the store. Default: one moment for the whole insert.
   */
  readonly createdTsMicros?: BigInt64Array;
  /**
   * Event views only (design §1.2): per row, the event fingerprint, 16 bytes each, concatenated.
   * Computed at the Write; absent (a job queued before it was carried) = computed at insert.
   */
  readonly fingerprints?: Uint8Array;
  /**
   * Event views only (design §1.3): per row, the eligibility decision of the Write that accepted
   * it — `EXCLUSION_NONE` (main table), `EXCLUSION_LATE` or `EXCLUSION_FUTURE` (`__excluded`).
   * Absent = every row eligible (history writes, jobs queued before it was carried).
   */
  readonly exclusions?: Uint8Array;
  /**
   * Event views only (design §1.6): per row, the tile generation holding the event online
   * (`online_gen`): the online fold's answer, 0 for excluded rows and history writes. Absent = 0.
   */
  readonly onlineGenerations?: Uint32Array;
}

export interface OfflineInsertOptions {
  /** ClickHouse insert deduplication token: a retried insert with the same token writes nothing again. */
  readonly dedupToken?: string;
  /** Absolute deadline, ms since the epoch. */
  readonly deadlineMillis?: number;
}

/** A typed column of values (null = no value). */
export interface TypedColumn {
  readonly name: string;
  readonly type: ValueType;
  readonly values: readonly FeatureValue[];
}

/** The rows a training set is built for. */
export type EntityRowsInput =
  | {
      readonly kind: 'rows';
      /** Join key name → one value per row. */
      readonly keys: ReadonlyMap<string, readonly JoinKeyValue[]>;
      /** The moment each row asks about, ms since the epoch. */
      readonly eventTsMillis: readonly number[];
      /** Extra columns (labels) passed through unchanged. */
      readonly passthrough: readonly TypedColumn[];
    }
  | {
      readonly kind: 'sql';
      /** A ClickHouse SELECT returning the join keys and `event_ts` (other columns pass through). */
      readonly sql: string;
    }
  | {
      /** A registered entity source run with the caller's parameter values (text, parsed by declared type). */
      readonly kind: 'source';
      readonly source: EntitySourceDef;
      readonly params: ReadonlyMap<string, string>;
    }
  | {
      /** Every entity of `view` with events in [start, end): at each of its event times, or at each hop. */
      readonly kind: 'view';
      readonly view: RegisteredView;
      /** Inclusive start, ms since the epoch. */
      readonly startMillis: number;
      /** Exclusive end, ms since the epoch. */
      readonly endMillis: number;
      /** 0: at each event time of the entity; else at start, start + hop, … before end. */
      readonly hopMillis: number;
    };

export interface HistoricalRequest {
  readonly entities: EntityRowsInput;
  readonly features: ResolvedFeatures;
  /** Rows per chunk. */
  readonly chunkRows: number;
  readonly format: 'columns' | 'arrow';
  /** Most entity rows a SELECT or view entity set may produce (RESOURCE_EXHAUSTED beyond). */
  readonly maxEntityRows?: number;
  readonly deadlineMillis?: number;
  /** Cancels the query (client gone, deadline). */
  readonly signal?: AbortSignal;
}

/**
 * One chunk of a training set, rows in input order: the input columns (join keys, `event_ts`,
 * passthrough) then one column per feature named `<view>__<feature>`.
 */
export interface HistoricalChunk {
  /** Index of the chunk's first row in the input order. */
  readonly firstRow: number;
  readonly rowCount: number;
  /** Set with format 'columns'. */
  readonly columns?: readonly TypedColumn[];
  /** Set with format 'arrow': one Arrow IPC stream holding this chunk's record batch. */
  readonly arrowIpc?: Uint8Array;
}

/** One stored row read back: join keys (in `view.joinKeys` order), event time, features (view order). */
export interface OfflineRow {
  readonly keys: JoinKeyValue[];
  readonly eventTsMillis: number;
  readonly features: FeatureValue[];
}

/** Which rows {@link OfflineStore.latestRows} reads. */
export interface LatestRowsRange {
  /** Events at or after this moment, ms since the epoch. */
  readonly startMillis: number;
  /** Events before this moment, ms since the epoch. */
  readonly endMillis: number;
  /** Read only the keys of part `part` of `parts` (split by a hash of the join keys). */
  readonly part?: { readonly index: number; readonly count: number };
  /** Rows per yielded batch. */
  readonly batchRows: number;
  readonly signal?: AbortSignal;
}

/** Which events {@link OfflineStore.eventRows} reads (design §3.6 snapshot, §4.4). */
export interface EventRowsRange {
  /** Read only events none of whose copies entered this generation or a later one (`max(online_gen) < before`). */
  readonly beforeGeneration: number;
  /** Read only the keys of part `part` of `parts` (the same split as {@link LatestRowsRange.part}). */
  readonly part?: { readonly index: number; readonly count: number };
  /** Rows per yielded batch (a batch may end inside an entity; rows come in (keys, ts, fp) order). */
  readonly batchRows: number;
  readonly signal?: AbortSignal;
}

/** One deduplicated eligible event of an event view's main table. */
export interface OfflineEventRow extends OfflineRow {
  /** The event's fingerprint (16 bytes). */
  readonly fp: Uint8Array;
}

/** The interval of an SQL view refresh: events at or after start, before end (ms since the epoch). */
export interface SqlViewInterval {
  readonly startMillis: number;
  readonly endMillis: number;
}

/** Options of {@link OfflineStore.refreshSqlView}. */
export interface SqlViewRefreshOptions {
  readonly dedupToken: string;
  readonly signal?: AbortSignal;
}

export interface OfflineStore {
  /** Creates, idempotently, the table of every given view version that lacks one. */
  ensureTables(views: readonly RegisteredView[]): Promise<void>;
  /** Inserts one validated batch of a view version as one insert. */
  insert(view: RegisteredView, batch: OfflineBatch, options?: OfflineInsertOptions): Promise<void>;
  /**
   * The latest row of every entity that has an event in the range (duplicates resolved by the
   * latest `created_ts`), in batches: what materialization copies online.
   */
  latestRows(view: RegisteredView, range: LatestRowsRange): AsyncIterable<OfflineRow[]>;
  /**
   * Every deduplicated eligible event of an event view (its main table, one row per (keys, ts, fp)),
   * ordered by (keys, event_ts, fp): what a tile rebuild folds (design §3.6). Stores without it
   * cannot rebuild tiles.
   */
  eventRows?(view: RegisteredView, range: EventRowsRange): AsyncIterable<OfflineEventRow[]>;
  /** Streams a point-in-time correct training set; a failure ends the stream with an error, never short. */
  historical(request: HistoricalRequest): AsyncIterable<HistoricalChunk>;
  /**
   * Checks that an entity source's SQL may be stored: it parses with its declared parameters and
   * the SQL guard accepts it. INVALID_ARGUMENT naming the source and the reason otherwise.
   */
  checkEntitySource?(source: EntitySourceDef): Promise<void>;
  /**
   * Checks an SQL view version as an apply would store it (design §5.1): one guarded SELECT that
   * reads only its placeholders' tables and returns exactly the view's join keys, `event_ts` and
   * features with compatible types. `reads` are the versions of its lineage (registered or planned).
   * INVALID_ARGUMENT naming the view, the column and the fix otherwise.
   */
  checkSqlView?(view: RegisteredView, reads: readonly RegisteredView[]): Promise<void>;
  /**
   * Computes an SQL view version's rows with event times in [start, end) into its table, as one
   * `INSERT … SELECT` under `dedupToken` (a retried interval inserts once).
   */
  refreshSqlView?(view: RegisteredView, interval: SqlViewInterval, options: SqlViewRefreshOptions): Promise<void>;
  close(): Promise<void>;
}
