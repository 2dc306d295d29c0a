import { open, type Database, type RootDatabase } from 'lmdb';
import {
  TesseraError,
  retentionMillis,
  type OnlineLookup,
  type EmbeddedOnlineStore,
  type OnlineWriteBatch,
  type OnlineWriteResult,
  type OnlineRebuildBatch,
  type OnlineRebuildResult,
} from '@tessera/core';
import { debugOnline } from './internal/debug.js';
import { checkWriteBatch, rowEventTs } from './internal/packed-row.js';
import { DEDUP_DEADLINE_SUFFIX, removeDedupSet, writeEventsSync, writeRebuiltSync } from './lmdb-event-fold.js';
import type { LmdbEventDatabases } from './lmdb-event-fold.js';
import { AggregationStateRefs, decodeAggregationState } from './lmdb-aggregation-state.js';

const DEFAULT_SWEEP_INTERVAL_MILLIS = 60_000;
const SWEEP_ROWS_PER_TRANSACTION = 10_000;
/** Separates the entity key from the field: entity keys never contain NUL, so one entity's rows are one key range. */
const FIELD_SEPARATOR = '\u0000';
/**
 * Entry of the `rows` database recording the aggregation layout of the environment (no entity
 * entry starts with NUL). Value `2`: aggregation state lives only in state entries (design §3.5,
 * increment 13). Absent in an environment that has rows: written before increment 13, so it may
 * hold per-field aggregation entries, read as a fallback and migrated by each entity's next write.
 */
const LAYOUT_ENTRY = '\u0000tessera:aggregation-layout';
const STATE_LAYOUT = '2';

/** Options of {@link LmdbOnlineStore}. */
export interface LmdbOnlineStoreOptions {
  /** Directory of the LMDB environment (created if missing). */
  readonly path: string;
  /** Prepended to every entity key. Default ''. */
  readonly keyPrefix?: string;
  /** How often rows past their retention are deleted; 0 = never (call `sweep()` yourself). Default 60,000. */
  readonly sweepIntervalMillis?: number;
  /** Maximum size of the memory map. Default: lmdb's (grows as needed). */
  readonly mapSizeBytes?: number;
}

/**
 * Embedded online store on LMDB, for single-node deployments and tests: the same contract as the
 * Redis store. Entry key `<entity key>\0<field>`, value the packed row as is. Retention is per
 * row (Redis keeps a whole entity hash until its longest-lived row is due, so a row may outlive
 * its retention there; both are allowed by the contract): a second database indexes rows by
 * retention deadline and `sweep()` deletes the due ones. An event view's batch (`batch.events`)
 * folds its events into the entity's aggregation entries (`<fv>.g<G>.<name>`, its pending list `pendingListField`) in the
 * same transaction: per (entity, field, generation) one state entry (`lmdb-aggregation-state.ts`) and one
 * dedup value (`lmdb-dedup-entry.ts`) next to its rows (see lmdb-event-fold.ts).
 */
export class LmdbOnlineStore implements EmbeddedOnlineStore {
  readonly #root: RootDatabase;
  readonly #rows: Database<Buffer, string>;
  /** entry key → retention deadline (ms), for rows that expire. */
  readonly #deadlines: Database<number, string>;
  /** [deadline, entry key] → true, ordered by deadline so a sweep reads only the due rows. */
  readonly #byDeadline: Database<true, [number, string]>;
  /** Event dedup sets of the layout before increment 13: `<entity entry prefix><field>\0<G>\0<fp hex>` → event ts (design §3.5); migrated by writes, swept. */
  readonly #dedup: Database<number, string>;
  readonly #keyPrefix: string;
  /** The event step's view of the databases (see {@link LmdbEventDatabases}). */
  readonly #eventDbs: LmdbEventDatabases;
  readonly #stateRefs = new AggregationStateRefs();
  readonly #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: LmdbOnlineStoreOptions) {
    this.#keyPrefix = options.keyPrefix ?? '';
    this.#root = open({
      path: options.path,
      // A commit returns once it is on disk (lmdb would otherwise flush in the background): an
      // acknowledged write, and the write-behind outbox entry with it, survive a power loss.
      overlappingSync: false,
      ...(options.mapSizeBytes === undefined ? {} : { mapSize: options.mapSizeBytes }),
    });
    this.#rows = this.#root.openDB<Buffer, string>({ name: 'rows', encoding: 'binary' });
    this.#deadlines = this.#root.openDB<number, string>({ name: 'deadlines', encoding: 'ordered-binary' });
    this.#byDeadline = this.#root.openDB<true, [number, string]>({ name: 'by-deadline', encoding: 'ordered-binary' });
    this.#dedup = this.#root.openDB<number, string>({ name: 'dedup', encoding: 'ordered-binary' });
    this.#eventDbs = {
      rows: this.#rows,
      deadlines: this.#deadlines,
      byDeadline: this.#byDeadline,
      dedup: this.#dedup,
      legacyFields: this.#openLayout(),
    };
    const sweepIntervalMillis = options.sweepIntervalMillis ?? DEFAULT_SWEEP_INTERVAL_MILLIS;
    if (sweepIntervalMillis > 0) {
      this.#sweepTimer = setInterval(() => {
        const swept = this.sweep();
        if (swept > 0) debugOnline(`lmdb sweep deleted ${swept} rows past retention`);
      }, sweepIntervalMillis).unref();
    }
  }

  read(lookups: readonly OnlineLookup[]): Promise<(Uint8Array | null)[][]> {
    return settle(() => this.#readSync(lookups));
  }

  write(batch: OnlineWriteBatch): Promise<OnlineWriteResult> {
    return settle(() => this.#root.transactionSync(() => this.#writeSync(batch)));
  }

  /** Stores rebuilt aggregation state (design §3.6), one transaction per batch. */
  writeRebuilt(batch: OnlineRebuildBatch): Promise<OnlineRebuildResult> {
    return settle(() =>
      this.#root.transactionSync(() => {
        this.#checkOpen(`rebuild of field ${batch.field}`);
        return writeRebuiltSync(this.#eventDbs, batch, (key) => this.#keyPrefix + key + FIELD_SEPARATOR);
      }),
    );
  }

  /**
   * `write`, with `alongside` run in the same transaction: both commit or neither does (the
   * embedded write-behind commits its outbox entry this way); `alongside` gets the online write's
   * answer (the event generations its outbox entry records). `batch` may be absent: then only
   * `alongside` runs.
   */
  writeWith(
    batch: OnlineWriteBatch | undefined,
    alongside: (result: OnlineWriteResult | undefined) => void,
  ): Promise<OnlineWriteResult | undefined> {
    return settle(() =>
      this.#root.transactionSync(() => {
        const result = batch === undefined ? undefined : this.#writeSync(batch);
        alongside(result);
        return result;
      }),
    );
  }

  /**
   * A named database in this store's environment (values msgpack-encoded), for records that must
   * commit together with online writes through {@link writeWith}.
   */
  openDatabase<V, K extends string | number>(name: string): Database<V, K> {
    if (name === 'rows' || name === 'deadlines' || name === 'by-deadline' || name === 'dedup') {
      throw new TesseraError('INVALID_ARGUMENT', `database name "${name}" is the online store's own`);
    }
    return this.#root.openDB<V, K>({ name, encoding: 'msgpack' });
  }

  /** Runs `work` in one write transaction of this environment. */
  transaction<T>(work: () => T): T {
    this.#checkOpen('transaction');
    return this.#root.transactionSync(work);
  }

  #readSync(lookups: readonly OnlineLookup[]): (Uint8Array | null)[][] {
    this.#checkOpen('read');
    // A loop of synchronous gets: 100 keys in ~0.2 ms, faster than getMany's promise round trip.
    // An entity's aggregation fields of one generation are parts of one state entry: one get.
    const legacy = this.#eventDbs.legacyFields;
    const results: (Uint8Array | null)[][] = new Array<(Uint8Array | null)[]>(lookups.length);
    for (let i = 0; i < lookups.length; i++) {
      const { key, fields } = lookups[i] as OnlineLookup;
      const prefix = this.#keyPrefix + key + FIELD_SEPARATOR;
      const rows = new Array<Uint8Array | null>(fields.length);
      // The state entries read for this entity (usually one: the view's served generation).
      let lastState: string | undefined;
      let lastParts: Map<string, Uint8Array> | null = null;
      for (let j = 0; j < fields.length; j++) {
        const field = fields[j] as string;
        const ref = this.#stateRefs.of(field);
        if (ref === null) {
          rows[j] = this.#rows.getBinary(prefix + field) ?? null;
          continue;
        }
        if (ref.state !== lastState) {
          lastState = ref.state;
          const stored = this.#rows.getBinary(prefix + ref.state);
          lastParts = stored === undefined ? null : decodeAggregationState(stored, prefix + ref.state);
        }
        // No state entry: in an environment written before increment 13, the per-field entry.
        rows[j] =
          lastParts !== null
            ? (lastParts.get(ref.part) ?? null)
            : legacy
              ? (this.#rows.getBinary(prefix + field) ?? null)
              : null;
      }
      results[i] = rows;
    }
    return results;
  }

  /**
   * Whether the environment may hold per-field aggregation entries (see {@link LAYOUT_ENTRY}); a
   * new environment is marked as state-entry only.
   */
  #openLayout(): boolean {
    const marked = this.#rows.getBinary(LAYOUT_ENTRY);
    if (marked !== undefined) return marked.toString('latin1') !== STATE_LAYOUT;
    const empty = this.#root.transactionSync(() => {
      for (const _ of this.#rows.getKeys({ limit: 1 })) return false;
      this.#rows.putSync(LAYOUT_ENTRY, Buffer.from(STATE_LAYOUT, 'latin1'));
      return true;
    });
    return !empty;
  }

  /** Writes a batch; the caller runs it inside a write transaction. */
  #writeSync(batch: OnlineWriteBatch): OnlineWriteResult {
    this.#checkOpen(`write to field ${batch.field}`);
    checkWriteBatch(batch.field, batch.ttlMillis, batch.keys, batch.rows);
    const retention = batch.ttlMillis === 0 ? 0 : retentionMillis(batch.ttlMillis);
    // One transaction: the whole batch commits or none of it, and the LWW compare sees no interleaved write.
    const stale = (() => {
      let staleRows = 0;
      for (let i = 0; i < batch.keys.length; i++) {
        const entry = this.#keyPrefix + (batch.keys[i] as string) + FIELD_SEPARATOR + batch.field;
        const row = batch.rows[i] as Uint8Array;
        const eventTs = rowEventTs(row);
        const stored = this.#rows.getBinaryFast(entry);
        if (stored !== undefined && stored.byteLength >= 9 && eventTs < rowEventTs(stored)) {
          staleRows++;
          continue;
        }
        this.#rows.putSync(entry, Buffer.isBuffer(row) ? row : Buffer.from(row.buffer, row.byteOffset, row.byteLength));
        const oldDeadline = this.#deadlines.get(entry);
        if (oldDeadline !== undefined) this.#byDeadline.removeSync([oldDeadline, entry]);
        if (retention === 0) {
          if (oldDeadline !== undefined) this.#deadlines.removeSync(entry);
        } else {
          const deadline = eventTs + retention;
          this.#deadlines.putSync(entry, deadline);
          this.#byDeadline.putSync([deadline, entry], true);
        }
      }
      return staleRows;
    })();
    if (batch.events === undefined) return { applied: batch.keys.length - stale, stale };
    // The events of an event view, in the same transaction as the rows: no half-landed write.
    const folded = writeEventsSync(
      this.#eventDbs,
      batch.field,
      batch.events,
      batch.keys.length,
      (i) => this.#keyPrefix + (batch.keys[i] as string) + FIELD_SEPARATOR,
    );
    // Grouped aggregations (§1.8): the same step per (entity, group field); `events` answers for every event.
    for (const group of batch.groupEvents ?? []) {
      writeEventsSync(
        this.#eventDbs,
        group.field,
        group.events,
        batch.keys.length,
        (i) => this.#keyPrefix + (batch.keys[i] as string) + FIELD_SEPARATOR,
      );
    }
    return { applied: batch.keys.length - stale, stale, ...folded };
  }

  /**
   * Deletes the rows whose retention deadline is at or before `nowMillis` and returns how many.
   * Runs on a timer (`sweepIntervalMillis`); call it directly to sweep on demand.
   */
  sweep(nowMillis: number = Date.now()): number {
    if (this.#closed) return 0;
    let total = 0;
    for (;;) {
      const deleted = this.#root.transactionSync(() => {
        const due: [number, string][] = [];
        for (const key of this.#byDeadline.getKeys({ limit: SWEEP_ROWS_PER_TRANSACTION })) {
          if (key[0] > nowMillis) break;
          due.push(key);
        }
        for (const key of due) {
          this.#byDeadline.removeSync(key);
          this.#deadlines.removeSync(key[1]);
          if (key[1].endsWith(DEDUP_DEADLINE_SUFFIX)) removeDedupSet(this.#dedup, key[1]);
          else this.#rows.removeSync(key[1]);
        }
        const count = due.length;
        return count;
      });
      total += deleted;
      if (deleted < SWEEP_ROWS_PER_TRANSACTION) return total;
    }
  }

  ping(): Promise<void> {
    return settle(() => this.#checkOpen('ping'));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    await this.#root.close();
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new TesseraError('UNAVAILABLE', `${what}: the LMDB online store is closed`);
  }
}

/** Runs synchronous work and reports its outcome as a promise (a throw becomes a rejection). */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
