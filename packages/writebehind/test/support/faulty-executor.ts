import { TesseraError } from '@tessera/core';
import type {
  ClickHouseExecutor,
  ExecuteOptions,
  FormattedQueryOptions,
  QueryParams,
  RawInsertOptions,
} from '@tessera/offline';

/**
 * Fault injection at the ClickHouse boundary: a real executor (chDB) whose inserts can be made to
 * fail — before reaching the engine (ClickHouse down) or after it (the insert landed, then the
 * answer was lost, as when a process dies between insert and acknowledgement). Everything else,
 * and every insert while healthy, goes to the real engine.
 */
export class FaultyExecutor implements ClickHouseExecutor {
  readonly kind: ClickHouseExecutor['kind'];
  /** 'down': inserts fail without reaching the engine; 'lose-answer': they land, then fail. */
  mode: 'healthy' | 'down' | 'lose-answer' = 'healthy';
  /** Inserts that reached the engine. */
  inserts = 0;
  /** Inserts refused while down. */
  refused = 0;
  readonly #inner: ClickHouseExecutor;

  constructor(inner: ClickHouseExecutor) {
    this.#inner = inner;
    this.kind = inner.kind;
  }

  command(sql: string, params?: QueryParams, options?: ExecuteOptions): Promise<void> {
    return this.#inner.command(sql, params, options);
  }

  queryJson<T>(sql: string, params?: QueryParams, options?: ExecuteOptions): Promise<T[]> {
    return this.#inner.queryJson<T>(sql, params, options);
  }

  queryBytes(sql: string, params: QueryParams | undefined, options: FormattedQueryOptions): Promise<Uint8Array> {
    return this.#inner.queryBytes(sql, params, options);
  }

  queryStream(sql: string, params: QueryParams | undefined, options: FormattedQueryOptions): AsyncIterable<Uint8Array> {
    return this.#inner.queryStream(sql, params, options);
  }

  async insertRaw(table: string, payload: Buffer, options: RawInsertOptions): Promise<void> {
    if (this.mode === 'down') {
      this.refused++;
      throw new TesseraError('UNAVAILABLE', `ClickHouse is down (fault injected) inserting into ${table}`);
    }
    await this.#inner.insertRaw(table, payload, options);
    this.inserts++;
    if (this.mode === 'lose-answer') {
      throw new TesseraError('UNAVAILABLE', `the answer of an insert into ${table} was lost (fault injected)`);
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
