/**
 * The one seam between Tessera's offline SQL and a ClickHouse engine. Two implementations run the
 * same SQL: {@link ChdbExecutor} (in-process chDB, the embedded default and tests) and
 * {@link HttpExecutor} (`@clickhouse/client` against a server or cluster).
 *
 * Values never enter SQL text: they travel as ClickHouse query parameters, written `{name:Type}`
 * in the SQL and given by name in `params`, or as an insert payload in a data format.
 */

/**
 * Query parameter values by name. Int64 values are bigint, strings are strings, `null` is NULL;
 * arrays and nested arrays are allowed for `Array(...)` parameters.
 */
export type QueryParams = Readonly<Record<string, QueryParamValue>>;

/** One query parameter value. */
export type QueryParamValue = string | number | bigint | boolean | null | readonly QueryParamValue[];

/** ClickHouse settings of one query, by name. */
export type QuerySettings = Readonly<Record<string, string | number | boolean>>;

/** Options of a query or command that returns no rows (or rows as JSON). */
export interface ExecuteOptions {
  /** Cancels the query; the returned promise or stream rejects with DEADLINE_EXCEEDED-style abort. */
  readonly signal?: AbortSignal;
  /**
   * Settings of this query only, typically its limits (`max_execution_time`, `max_memory_usage`,
   * …). A query given settings is *isolated*: on chDB it runs on a connection of its own (so it
   * neither waits behind nor holds up the shared one) and an abort kills it in the engine
   * (`KILL QUERY`), not only in Node.
   */
  readonly settings?: QuerySettings;
}

/** Options of a query whose result comes back in a named ClickHouse output format. */
export interface FormattedQueryOptions extends ExecuteOptions {
  /** A ClickHouse output format name, e.g. `ArrowStream`, `Parquet`, `TabSeparated`, `JSONEachRow`. */
  readonly format: string;
}

/** Insert payload formats both executors accept. */
export type RawInsertFormat = 'TabSeparated' | 'JSONEachRow' | 'JSONCompactEachRow' | 'CSV';

/** Options of {@link ClickHouseExecutor.insertRaw}. */
export interface RawInsertOptions {
  readonly format: RawInsertFormat;
  /** Column list of the insert, in payload order; all columns of the table when absent. */
  readonly columns?: readonly string[];
  /** ClickHouse settings of this insert only, e.g. `insert_deduplication_token`. */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  readonly signal?: AbortSignal;
}

/**
 * Runs ClickHouse SQL. Every failure is a TesseraError: UNAVAILABLE when the engine cannot be
 * reached, INVALID_ARGUMENT for a query ClickHouse rejects as wrong (syntax, unknown column, bad
 * parameter), DEADLINE_EXCEEDED when the signal aborted it, INTERNAL otherwise; the message names
 * the ClickHouse exception and the original error is the `cause`.
 */
export interface ClickHouseExecutor {
  /** `'chdb'` or `'http'`, for logs and for the few places that must know (none in SQL). */
  readonly kind: 'chdb' | 'http';
  /** Runs a statement whose result is ignored (DDL, INSERT … SELECT, DROP). */
  command(sql: string, params?: QueryParams, options?: ExecuteOptions): Promise<void>;
  /** Runs a SELECT and parses its rows (JSONEachRow: Int64 come back as strings). */
  queryJson<T>(sql: string, params?: QueryParams, options?: ExecuteOptions): Promise<T[]>;
  /** Runs a SELECT and returns the whole result in `format`, as bytes. */
  queryBytes(sql: string, params: QueryParams | undefined, options: FormattedQueryOptions): Promise<Uint8Array>;
  /**
   * Runs a SELECT and yields the result in `format` as raw chunks as they arrive (chunk
   * boundaries carry no meaning: for row formats a chunk may end mid-row on HTTP). Memory stays
   * bounded by the chunk size. Breaking out of the loop cancels the query.
   */
  queryStream(sql: string, params: QueryParams | undefined, options: FormattedQueryOptions): AsyncIterable<Uint8Array>;
  /**
   * Inserts a payload already encoded in `options.format` into `table`, as one insert. `table` is
   * `db.table` and `columns` plain names, unquoted (identifiers the registry rule already checked).
   */
  insertRaw(table: string, payload: Buffer, options: RawInsertOptions): Promise<void>;
  /** Releases the engine or connection; idempotent. */
  close(): Promise<void>;
}
