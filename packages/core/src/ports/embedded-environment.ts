/**
 * The embedded engine's environment, as the stores that share one process commit in it: the online
 * rows, the write-behind outbox, idempotency keys and materialization points live in one LMDB
 * environment so that a Write and its outbox entry commit in one transaction. Core names only what
 * those stores use, so they depend on this port and not on the online store's package or on lmdb.
 */
import type { OnlineStore, OnlineWriteBatch, OnlineWriteResult } from '../online-store.js';

/** Bounds of a range read over a table, in key order. */
export interface EmbeddedRangeOptions {
  /** At most this many entries. */
  readonly limit?: number;
}

/** A named table of the environment (the part of lmdb's `Database` the stores use). */
export interface EmbeddedTable<V, K extends string | number> {
  get(key: K): V | undefined;
  /** Writes asynchronously (batched with other writes by the engine). */
  put(key: K, value: V): Promise<boolean>;
  /** Writes at once; inside a transaction, as part of it. */
  putSync(key: K, value: V): void;
  /** Resolves true when the key was removed. */
  remove(key: K): Promise<boolean>;
  removeSync(key: K): boolean;
  getRange(options?: EmbeddedRangeOptions): Iterable<{ readonly key: K; readonly value: V }>;
  /** Number of entries. */
  getCount(): number;
  /** Number of keys, counting at most `limit`. */
  getKeysCount(options?: EmbeddedRangeOptions): number;
}

/** An environment of tables that commit together. */
export interface EmbeddedEnvironment {
  /** Opens (creating when absent) the table `name` of this environment. */
  openDatabase<V, K extends string | number>(name: string): EmbeddedTable<V, K>;
  /** Runs `work` in one write transaction of this environment. */
  transaction<T>(work: () => T): T;
}

/** The embedded online store: its environment is shared, and a write can carry other work along. */
export interface EmbeddedOnlineStore extends OnlineStore, EmbeddedEnvironment {
  /**
   * `write`, with `alongside` run in the same transaction: both commit or neither does (the
   * outbox entry of a Write commits with its online rows). Without a batch, only `alongside` runs.
   */
  writeWith(
    batch: OnlineWriteBatch | undefined,
    alongside: (result: OnlineWriteResult | undefined) => void,
  ): Promise<OnlineWriteResult | undefined>;
}
