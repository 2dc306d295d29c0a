/**
 * ClickHouse server (or cluster) over HTTP through `@clickhouse/client`. Same SQL as chDB: query
 * parameters go as `param_<name>` URL parameters, never into the SQL text; inserts send the payload
 * as the request body in its format.
 */
import { Readable } from 'node:stream';
import {
  createClient,
  ClickHouseError,
  ClickHouseLogLevel,
  type ClickHouseClient,
  type ClickHouseSettings,
} from '@clickhouse/client';
import { TesseraError } from '@tessera/core';
import type {
  ClickHouseExecutor,
  ExecuteOptions,
  FormattedQueryOptions,
  QueryParams,
  QuerySettings,
  RawInsertOptions,
} from './executor.js';
import { abortedError, clickHouseError } from './internal/clickhouse-errors.js';
import { DEFAULT_OUTPUT_SETTINGS } from './internal/default-settings.js';
import { parseJsonEachRow } from './internal/json-rows.js';
import { endQuerySpan, startQuerySpan, summaryNumber, type QueryStats } from './internal/query-span.js';

/** Default time a request may take before the client gives up, ms (training sets take long). */
export const DEFAULT_REQUEST_TIMEOUT_MILLIS = 3_600_000;

/**
 * Progress headers keep a long query's connection busy while no result byte has been sent yet:
 * load balancers drop idle connections (often after 120 s) and a training-set join can be silent
 * longer than that. One header per interval stays far below Node's header size limit.
 */
const PROGRESS_HEADER_SETTINGS = {
  send_progress_in_http_headers: 1,
  http_headers_progress_interval_ms: '110000',
} as const;

/** Output format names a query may ask for: letters only, so appending `FORMAT x` is safe. */
const FORMAT_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

/** Node network error codes that mean "the server cannot be reached". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
]);

/** Options of {@link HttpExecutor}. */
export interface HttpExecutorOptions {
  /** `http(s)://[user:password@]host:port[/database]`. */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** Per-request timeout, ms. Default {@link DEFAULT_REQUEST_TIMEOUT_MILLIS}. */
  readonly requestTimeoutMillis?: number;
  /** Most sockets kept open to the server. */
  readonly maxOpenConnections?: number;
  /** ClickHouse settings of every request (e.g. `max_memory_usage`). */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  /**
   * Log level of `@clickhouse/client` itself. Default OFF: it logs every failed request at ERROR,
   * and each failure already reaches the caller as a TesseraError (which Tessera reports once).
   */
  readonly clientLogLevel?: ClickHouseLogLevel;
}

function hasParams(params: QueryParams | undefined): params is QueryParams {
  return params !== undefined && Object.keys(params).length > 0;
}

function networkCodeOf(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return code;
    current = current.cause;
  }
  return undefined;
}

/** Where the server is, without credentials, for messages. */
function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.origin + parsed.pathname.replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}

/**
 * The `clickhouse_settings` of a query given settings. A server cancels a read-only query whose
 * client hung up only with `cancel_http_readonly_queries_on_client_close`; anything else runs
 * on to its `max_execution_time`.
 */
function limitSettings(settings: QuerySettings | undefined): { clickhouse_settings?: ClickHouseSettings } {
  if (settings === undefined) return {};
  return {
    clickhouse_settings: { cancel_http_readonly_queries_on_client_close: 1, ...settings },
  };
}

/** {@link ClickHouseExecutor} over `@clickhouse/client`. */
export class HttpExecutor implements ClickHouseExecutor {
  readonly kind = 'http' as const;
  readonly #client: ClickHouseClient;
  readonly #where: string;
  #closed = false;

  constructor(options: HttpExecutorOptions) {
    this.#where = displayUrl(options.url);
    try {
      this.#client = createClient({
        url: options.url,
        ...(options.username === undefined ? {} : { username: options.username }),
        ...(options.password === undefined ? {} : { password: options.password }),
        request_timeout: options.requestTimeoutMillis ?? DEFAULT_REQUEST_TIMEOUT_MILLIS,
        ...(options.maxOpenConnections === undefined ? {} : { max_open_connections: options.maxOpenConnections }),
        application: 'tessera',
        log: { level: options.clientLogLevel ?? ClickHouseLogLevel.OFF },
        clickhouse_settings: { ...DEFAULT_OUTPUT_SETTINGS, ...PROGRESS_HEADER_SETTINGS, ...options.settings },
      });
    } catch (error) {
      throw new TesseraError('INVALID_ARGUMENT', `invalid ClickHouse URL ${this.#where}: ${String(error)}`, {
        cause: error,
      });
    }
  }

  async command(sql: string, params?: QueryParams, options: ExecuteOptions = {}): Promise<void> {
    this.#assertOpen('query');
    const { signal } = options;
    const span = startQuerySpan('http', sql);
    try {
      const result = await this.#client.command({
        query: sql,
        ...(hasParams(params) ? { query_params: { ...params } } : {}),
        ...limitSettings(options.settings),
        ...(signal === undefined ? {} : { abort_signal: signal }),
      });
      endQuerySpan(span, summaryStats(result.query_id, result.summary));
    } catch (error) {
      const mapped = this.#mapError('query', error, signal);
      endQuerySpan(span, {}, mapped);
      throw mapped;
    }
  }

  async queryJson<T>(sql: string, params?: QueryParams, options: ExecuteOptions = {}): Promise<T[]> {
    const bytes = await this.queryBytes(sql, params, {
      format: 'JSONEachRow',
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.settings === undefined ? {} : { settings: options.settings }),
    });
    return parseJsonEachRow<T>(bytes);
  }

  async queryBytes(sql: string, params: QueryParams | undefined, options: FormattedQueryOptions): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.queryStream(sql, params, options)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async *queryStream(
    sql: string,
    params: QueryParams | undefined,
    options: FormattedQueryOptions,
  ): AsyncGenerator<Uint8Array, void, undefined> {
    this.#assertOpen('query');
    if (!FORMAT_NAME.test(options.format)) {
      throw new TesseraError('INTERNAL', `refusing output format ${JSON.stringify(options.format)}`);
    }
    const { signal } = options;
    // The client's own abort controller ends the response stream when the caller stops early.
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted === true) onAbort();
    let finished = false;
    const span = startQuerySpan('http', sql);
    let stats: QueryStats = {};
    let resultBytes = 0;
    try {
      const result = await this.#client.exec({
        query: `${stripTrailingSemicolons(sql)}\nFORMAT ${options.format}`,
        ...(hasParams(params) ? { query_params: { ...params } } : {}),
        ...limitSettings(options.settings),
        abort_signal: controller.signal,
      });
      stats = summaryStats(result.query_id, result.summary);
      for await (const chunk of result.stream as AsyncIterable<Buffer>) {
        resultBytes += chunk.length;
        if (chunk.length > 0) yield chunk;
      }
      finished = true;
      endQuerySpan(span, { ...stats, resultBytes });
    } catch (error) {
      const mapped = this.#mapError('query', error, signal);
      endQuerySpan(span, { ...stats, resultBytes }, mapped);
      throw mapped;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!finished) controller.abort();
      // A consumer that stops early ends the stream here (the span is then closed as it stands).
      if (span.isRecording()) endQuerySpan(span, { ...stats, resultBytes });
    }
  }

  async insertRaw(table: string, payload: Buffer, options: RawInsertOptions): Promise<void> {
    this.#assertOpen(`insert into ${table}`);
    const { signal } = options;
    const span = startQuerySpan('http', undefined, table);
    try {
      const result = await this.#client.insert({
        table,
        values: Readable.from([payload], { objectMode: false }),
        format: options.format,
        ...(options.columns === undefined || options.columns.length === 0
          ? {}
          : { columns: [...options.columns] as [string, ...string[]] }),
        ...(options.settings === undefined ? {} : { clickhouse_settings: { ...options.settings } }),
        ...(signal === undefined ? {} : { abort_signal: signal }),
      });
      endQuerySpan(span, summaryStats(result.query_id, result.summary));
    } catch (error) {
      const mapped = this.#mapError(`insert into ${table}`, error, signal);
      endQuerySpan(span, {}, mapped);
      throw mapped;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.close();
  }

  #mapError(operation: string, error: unknown, signal: AbortSignal | undefined): TesseraError {
    if (error instanceof TesseraError) return error;
    if (signal?.aborted === true) return abortedError(operation, signal, error);
    if (error instanceof ClickHouseError) {
      const clickhouseCode = Number(error.code);
      const message =
        error.type === undefined || error.message.includes(`(${error.type})`)
          ? error.message
          : `${error.message} (${error.type})`;
      return clickHouseError(operation, Number.isFinite(clickhouseCode) ? clickhouseCode : undefined, message, error);
    }
    const networkCode = networkCodeOf(error);
    if (networkCode !== undefined) {
      return new TesseraError(
        'UNAVAILABLE',
        `${operation} failed: ClickHouse at ${this.#where} is unreachable (${networkCode})`,
        { cause: error },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    if (/timeout/i.test(message)) {
      return new TesseraError(
        'UNAVAILABLE',
        `${operation} failed: ClickHouse at ${this.#where} did not answer in time: ${message}`,
        {
          cause: error,
        },
      );
    }
    return new TesseraError('INTERNAL', `${operation} failed on ClickHouse at ${this.#where}: ${message}`, {
      cause: error,
    });
  }

  #assertOpen(operation: string): void {
    if (this.#closed) {
      throw new TesseraError(
        'UNAVAILABLE',
        `${operation} failed: the ClickHouse HTTP executor for ${this.#where} is closed`,
      );
    }
  }
}

/** The fields of ClickHouse's `X-ClickHouse-Summary` header the spans record (strings there). */
interface SummaryFigures {
  readonly read_rows?: string;
  readonly read_bytes?: string;
  readonly written_rows?: string;
  readonly written_bytes?: string;
}

/** The figures of ClickHouse's `X-ClickHouse-Summary` header, for the query's span. */
function summaryStats(queryId: string, summary: SummaryFigures | undefined): QueryStats {
  return {
    queryId,
    readRows: summaryNumber(summary?.read_rows),
    readBytes: summaryNumber(summary?.read_bytes),
    writtenRows: summaryNumber(summary?.written_rows),
    writtenBytes: summaryNumber(summary?.written_bytes),
  };
}

function stripTrailingSemicolons(sql: string): string {
  return sql.replace(/[\s;]+$/, '');
}
