/**
 * ClickHouse in-process through chDB: the embedded default and the engine of every test.
 *
 * Only chDB's asynchronous calls are used (`queryAsync`, `queryBindAsync`, `insert`,
 * `queryStream`): the synchronous `query` blocks the event loop for the whole query.
 *
 * Two engine facts shape this file, both verified on chDB 3.4 (ClickHouse 26.7):
 * - chDB is one engine per process with one data directory. A process-wide registry keeps one
 *   shared Session per path and refuses a second path with a message saying what to do.
 * - A Session runs one streaming query at a time, and any other query on that Session while a
 *   stream is open ends the stream ("No active streaming query"). Each `queryStream` therefore
 *   opens a Session of its own on the same path (cheap: the engine is shared) and closes it when
 *   the stream ends. Consequence for callers: Session state (TEMPORARY tables, SET) is not shared
 *   between calls — use ordinary tables named per request and drop them.
 * - Two facts of bound queries (`queryBindAsync`), measured: one waits for every other bound
 *   query of the process to end, whatever its Session; and `system.processes` shows a bound query
 *   re-formatted (comments gone, parameters substituted). A query that may run long must
 *   therefore not be bound, or it holds up every bound query and cannot be found to be killed.
 * - A Session runs its queries one after another, and chDB cannot interrupt a single-shot query
 *   (its abort only settles the promise early). A query given `settings` (its limits) therefore
 *   runs on a Session of its own, with the settings as that connection's arguments, and starts
 *   with a comment naming it; an abort runs `KILL QUERY … ASYNC` from yet another Session, which
 *   does stop it in the engine (measured: a `sum(number)` over `numbers(2e11)` killed 0.7 s in
 *   stopped within ~30 ms and the process's CPU fell to idle). `KILL … SYNC` never returned.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { Session } from 'chdb';
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
import { endQuerySpan, startQuerySpan } from './internal/query-span.js';
import { parseJsonEachRow } from './internal/json-rows.js';

/** Options of {@link ChdbExecutor.open}. */
export interface ChdbExecutorOptions {
  /** Data directory of the engine (created if missing). One per process. */
  readonly path: string;
  /**
   * Extra engine settings given at connect, `clickhouse local` command-line style without the
   * leading dashes, e.g. `{ max_memory_usage: 2_000_000_000 }`.
   */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
}

interface OpenEngine {
  readonly path: string;
  readonly connectionArgs: readonly string[];
  readonly session: Session;
  references: number;
}

/** The process-wide registry of the one chDB engine (kept on globalThis: survives duplicate module copies). */
const ENGINE_KEY = Symbol.for('tessera.offline.chdb-engine');
type EngineHolder = { [ENGINE_KEY]?: OpenEngine };
const holder = globalThis as EngineHolder;

function connectionArgsOf(settings: Readonly<Record<string, string | number | boolean>>): string[] {
  return Object.entries({ ...DEFAULT_OUTPUT_SETTINGS, ...settings }).map(
    ([name, value]) => `--${name}=${typeof value === 'boolean' ? (value ? 1 : 0) : value}`,
  );
}

function acquireEngine(options: ChdbExecutorOptions): OpenEngine {
  const path = resolve(options.path);
  const open = holder[ENGINE_KEY];
  if (open !== undefined) {
    if (open.path !== path) {
      throw new TesseraError(
        'FAILED_PRECONDITION',
        `chDB allows one data directory per process: ${open.path} is open, so ${path} cannot be opened. ` +
          'Use one directory (separate databases inside it), close every store on the first directory, ' +
          'or run the second store in its own process.',
      );
    }
    open.references += 1;
    return open;
  }
  mkdirSync(path, { recursive: true });
  const connectionArgs = connectionArgsOf(options.settings ?? {});
  let session: Session;
  try {
    session = new Session(path, { connectionArgs });
  } catch (error) {
    throw new TesseraError(
      'FAILED_PRECONDITION',
      `cannot open chDB at ${path}: ${error instanceof Error ? error.message : String(error)} ` +
        '(chDB allows one data directory per process; another part of this process may hold one)',
      { cause: error },
    );
  }
  const engine: OpenEngine = { path, connectionArgs, session, references: 1 };
  holder[ENGINE_KEY] = engine;
  return engine;
}

function releaseEngine(engine: OpenEngine): void {
  engine.references -= 1;
  if (engine.references > 0) return;
  if (holder[ENGINE_KEY] === engine) delete holder[ENGINE_KEY];
  engine.session.close();
}

interface ChdbErrorLike {
  readonly code?: unknown;
  readonly clickhouseCode?: unknown;
  readonly message: string;
}

function isChdbError(error: unknown): error is Error & ChdbErrorLike {
  return error instanceof Error && typeof (error as ChdbErrorLike).code === 'string';
}

/** Maps whatever chDB threw to a TesseraError. */
function mapChdbError(operation: string, error: unknown, signal: AbortSignal | undefined): TesseraError {
  if (error instanceof TesseraError) return error;
  if (signal?.aborted === true) return abortedError(operation, signal, error);
  if (!isChdbError(error)) {
    return new TesseraError('INTERNAL', `${operation} failed: ${String(error)}`, { cause: error });
  }
  switch (error.code) {
    case 'CHDB_ABORT':
    case 'CHDB_TIMEOUT':
      return abortedError(operation, signal, error);
    case 'CHDB_CLOSED':
    case 'CHDB_CONNECTION':
      return new TesseraError('UNAVAILABLE', `${operation} failed: chDB is not open: ${error.message}`, {
        cause: error,
      });
    default: {
      const clickhouseCode = typeof error.clickhouseCode === 'number' ? error.clickhouseCode : undefined;
      // A bind error is a parameter chDB could not convert to its declared type.
      const code = error.code === 'CHDB_BIND' && clickhouseCode === undefined ? 457 : clickhouseCode;
      return clickHouseError(operation, code, error.message, error);
    }
  }
}

function hasParams(params: QueryParams | undefined): params is QueryParams {
  return params !== undefined && Object.keys(params).length > 0;
}

/** How often a kill is retried while the killed query has not ended (it may not be registered yet). */
const KILL_RETRY_MILLIS = 200;
/** Kill attempts before giving up (the query's own max_execution_time still ends it). */
const KILL_ATTEMPTS = 25;

/** A query on a Session of its own: its limits as connection arguments, a tag to kill it by. */
interface IsolatedQuery {
  readonly session: Session;
  readonly sql: string;
  readonly tag: string;
}

/** What a query run gives back: its bytes and the engine's figures (and the tag of an isolated query). */
interface RunResult {
  bytes(): Uint8Array;
  readonly rowsRead: number;
  readonly bytesRead: number;
  readonly tag?: string;
}

/** {@link ClickHouseExecutor} over the process's chDB engine. */
export class ChdbExecutor implements ClickHouseExecutor {
  readonly kind = 'chdb' as const;
  /** Absolute data directory. */
  readonly path: string;
  readonly #engine: OpenEngine;
  #closed = false;

  private constructor(engine: OpenEngine) {
    this.#engine = engine;
    this.path = engine.path;
  }

  /**
   * Opens (or shares) the process's chDB engine on `path`. Throws FAILED_PRECONDITION when
   * another path is open in this process. Engine `settings` of a shared engine are those of the
   * first opener.
   */
  static open(options: ChdbExecutorOptions): ChdbExecutor {
    return new ChdbExecutor(acquireEngine(options));
  }

  async command(sql: string, params?: QueryParams, options: ExecuteOptions = {}): Promise<void> {
    await this.#run(sql, params, 'TabSeparated', options.signal, options.settings);
  }

  async queryJson<T>(sql: string, params?: QueryParams, options: ExecuteOptions = {}): Promise<T[]> {
    const bytes = await this.#run(sql, params, 'JSONEachRow', options.signal, options.settings);
    return parseJsonEachRow<T>(bytes);
  }

  queryBytes(sql: string, params: QueryParams | undefined, options: FormattedQueryOptions): Promise<Uint8Array> {
    return this.#run(sql, params, options.format, options.signal, options.settings);
  }

  async *queryStream(
    sql: string,
    params: QueryParams | undefined,
    options: FormattedQueryOptions,
  ): AsyncGenerator<Uint8Array, void, undefined> {
    this.#assertOpen('query');
    const { signal } = options;
    if (signal?.aborted === true) throw abortedError('query', signal, signal.reason);
    // A Session of its own: another query on a Session ends that Session's open stream.
    const isolated = this.#isolate(sql, options.settings ?? {});
    const span = startQuerySpan('chdb', sql);
    let resultBytes = 0;
    let ended = false;
    // A stream's abort acts only between chunks: a query that produces no chunk for a while
    // (a sort, an aggregation) is killed in the engine.
    const onAbort = (): void => void this.#kill(isolated.tag, () => ended);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const streamOptions = signal === undefined ? { format: options.format } : { format: options.format, signal };
      const stream = hasParams(params)
        ? isolated.session.queryStreamBind(isolated.sql, params, streamOptions)
        : isolated.session.queryStream(isolated.sql, streamOptions);
      for await (const chunk of stream) {
        const bytes = chunk.raw();
        resultBytes += bytes.length;
        if (bytes.length > 0) yield bytes;
      }
      endQuerySpan(span, { queryId: isolated.tag, resultBytes });
    } catch (error) {
      const mapped = mapChdbError('query', error, signal);
      endQuerySpan(span, { queryId: isolated.tag, resultBytes }, mapped);
      throw mapped;
    } finally {
      // A consumer that stops early ends the stream here (the span is then closed as it stands).
      if (span.isRecording()) endQuerySpan(span, { queryId: isolated.tag, resultBytes });
      ended = true;
      signal?.removeEventListener('abort', onAbort);
      isolated.session.close();
    }
  }

  async insertRaw(table: string, payload: Buffer, options: RawInsertOptions): Promise<void> {
    this.#assertOpen(`insert into ${table}`);
    const { signal } = options;
    const span = startQuerySpan('chdb', undefined, table);
    try {
      const result = await this.#engine.session.insert({
        table,
        values: payload,
        format: options.format,
        ...(options.columns === undefined ? {} : { columns: options.columns }),
        ...(options.settings === undefined ? {} : { settings: { ...options.settings } }),
        ...(signal === undefined ? {} : { signal }),
      });
      endQuerySpan(span, { writtenRows: result.rowsWritten, writtenBytes: result.bytesWritten });
    } catch (error) {
      const mapped = mapChdbError(`insert into ${table}`, error, signal);
      endQuerySpan(span, {}, mapped);
      throw mapped;
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      releaseEngine(this.#engine);
    }
    return Promise.resolve();
  }

  async #run(
    sql: string,
    params: QueryParams | undefined,
    format: string,
    signal?: AbortSignal,
    settings?: QuerySettings,
  ): Promise<Uint8Array> {
    this.#assertOpen('query');
    const span = startQuerySpan('chdb', sql);
    try {
      const result =
        settings === undefined
          ? await this.#runShared(sql, params, format, signal)
          : await this.#runIsolated(sql, params, format, settings, signal);
      const bytes = result.bytes();
      endQuerySpan(span, {
        queryId: result.tag,
        readRows: result.rowsRead,
        readBytes: result.bytesRead,
        resultBytes: bytes.length,
      });
      return bytes;
    } catch (error) {
      endQuerySpan(span, {}, error);
      throw error;
    }
  }

  async #runShared(
    sql: string,
    params: QueryParams | undefined,
    format: string,
    signal: AbortSignal | undefined,
  ): Promise<RunResult> {
    const options = signal === undefined ? { format } : { format, signal };
    try {
      return hasParams(params)
        ? await this.#engine.session.queryBindAsync(sql, params, options)
        : await this.#engine.session.queryAsync(sql, options);
    } catch (error) {
      throw mapChdbError('query', error, signal);
    }
  }

  async #runIsolated(
    sql: string,
    params: QueryParams | undefined,
    format: string,
    settings: QuerySettings,
    signal: AbortSignal | undefined,
  ): Promise<RunResult> {
    if (signal?.aborted === true) throw abortedError('query', signal, signal.reason);
    const isolated = this.#isolate(sql, settings);
    // No signal for chDB: its abort would settle the promise while the engine runs on. The
    // abort kills the query instead, and the promise settles when the engine has stopped it.
    const native = hasParams(params)
      ? isolated.session.queryBindAsync(isolated.sql, params, { format })
      : isolated.session.queryAsync(isolated.sql, { format });
    let ended = false;
    const settled = native.then(
      () => undefined,
      () => undefined,
    );

    void settled.then(() => {
      ended = true;
      isolated.session.close();
    });
    const onAbort = (): void => void this.#kill(isolated.tag, () => ended);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await native;
      // Read before the session closes (on the next turn, above).
      const bytes = result.bytes();
      return { bytes: () => bytes, rowsRead: result.rowsRead, bytesRead: result.bytesRead, tag: isolated.tag };
    } catch (error) {
      throw mapChdbError('query', error, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** A Session for one query: the engine's arguments plus `settings`, and the query tagged. */
  #isolate(sql: string, settings: QuerySettings): IsolatedQuery {
    const tag = `tessera-query:${randomUUID()}`;
    const settingArgs = Object.entries(settings).map(
      ([name, value]) => `--${name}=${typeof value === 'boolean' ? (value ? 1 : 0) : value}`,
    );
    const session = new Session(this.path, { connectionArgs: [...this.#engine.connectionArgs, ...settingArgs] });
    return { session, sql: `/* ${tag} */ ${sql}`, tag };
  }

  /** Kills the query tagged `tag` in the engine, retrying until `ended()` (best effort, never throws). */
  async #kill(tag: string, ended: () => boolean): Promise<void> {
    const session = new Session(this.path, { connectionArgs: [...this.#engine.connectionArgs] });
    try {
      for (let attempt = 0; attempt < KILL_ATTEMPTS && !ended(); attempt += 1) {
        // The tag opens the killed query's text; this statement's own text starts with KILL. The
        // tag is a UUID Tessera made, so it is spliced: a bound query waits for every other
        // bound query of the process to end, the runaway included.
        await session.queryAsync(`KILL QUERY WHERE startsWith(query, '/* ${tag} */') ASYNC`).catch(() => undefined);
        await new Promise((resolveWait) => setTimeout(resolveWait, KILL_RETRY_MILLIS));
      }
    } finally {
      session.close();
    }
  }

  #assertOpen(operation: string): void {
    if (this.#closed) {
      throw new TesseraError('UNAVAILABLE', `${operation} failed: the chDB executor on ${this.path} is closed`);
    }
  }
}
