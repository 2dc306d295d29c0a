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
 */
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { Session } from 'chdb';
import { TesseraError } from '@tessera/core';
import type {
  ClickHouseExecutor,
  ExecuteOptions,
  FormattedQueryOptions,
  QueryParams,
  RawInsertOptions,
} from './executor.js';
import { abortedError, clickHouseError } from './internal/clickhouse-errors.js';
import { DEFAULT_OUTPUT_SETTINGS } from './internal/default-settings.js';
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
    await this.#run(sql, params, 'TabSeparated', options.signal);
  }

  async queryJson<T>(sql: string, params?: QueryParams, options: ExecuteOptions = {}): Promise<T[]> {
    const bytes = await this.#run(sql, params, 'JSONEachRow', options.signal);
    return parseJsonEachRow<T>(bytes);
  }

  queryBytes(sql: string, params: QueryParams | undefined, options: FormattedQueryOptions): Promise<Uint8Array> {
    return this.#run(sql, params, options.format, options.signal);
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
    const session = new Session(this.path, { connectionArgs: [...this.#engine.connectionArgs] });
    try {
      const streamOptions = signal === undefined ? { format: options.format } : { format: options.format, signal };
      const stream = hasParams(params)
        ? session.queryStreamBind(sql, params, streamOptions)
        : session.queryStream(sql, streamOptions);
      for await (const chunk of stream) {
        const bytes = chunk.raw();
        if (bytes.length > 0) yield bytes;
      }
    } catch (error) {
      throw mapChdbError('query', error, signal);
    } finally {
      session.close();
    }
  }

  async insertRaw(table: string, payload: Buffer, options: RawInsertOptions): Promise<void> {
    this.#assertOpen(`insert into ${table}`);
    const { signal } = options;
    try {
      await this.#engine.session.insert({
        table,
        values: payload,
        format: options.format,
        ...(options.columns === undefined ? {} : { columns: options.columns }),
        ...(options.settings === undefined ? {} : { settings: { ...options.settings } }),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      throw mapChdbError(`insert into ${table}`, error, signal);
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      releaseEngine(this.#engine);
    }
    return Promise.resolve();
  }

  async #run(sql: string, params: QueryParams | undefined, format: string, signal?: AbortSignal): Promise<Uint8Array> {
    this.#assertOpen('query');
    const options = signal === undefined ? { format } : { format, signal };
    try {
      const result = hasParams(params)
        ? await this.#engine.session.queryBindAsync(sql, params, options)
        : await this.#engine.session.queryAsync(sql, options);
      return result.bytes();
    } catch (error) {
      throw mapChdbError('query', error, signal);
    }
  }

  #assertOpen(operation: string): void {
    if (this.#closed) {
      throw new TesseraError('UNAVAILABLE', `${operation} failed: the chDB executor on ${this.path} is closed`);
    }
  }
}
