import type { ChainableCommander, Cluster } from 'ioredis';
import { createRedisCluster, waitForReplicas, type RedisClientSettings } from '@tessera/redis';
import {
  TesseraError,
  rebuildMarkerField,
  retentionMillis,
  type OnlineLookup,
  type OnlineReadOptions,
  type OnlineStore,
  type OnlineWriteBatch,
  type OnlineWriteOptions,
  type OnlineWriteResult,
  type OnlineRebuildBatch,
  type OnlineRebuildResult,
  type RebuiltEntity,
} from '@tessera/core';
import { ensureClusterReady, runPerNode } from './internal/cluster-batch.js';
import { debugOnline } from './internal/debug.js';
import { readClusterRows, type ClusterReadContext } from './redis-cluster-read.js';
import { withDeadline } from './internal/deadline.js';
import { LWW_STALE, LWW_WRITE_LUA } from './internal/lww-write-script.js';
import { AGG_WRITE_LIBRARY } from './internal/agg-write-script.js';
import { addAggWrite, groupEventCalls, groupEventsByKey, toBuffer } from './internal/agg-write-calls.js';
import { loadFunctionLibrary } from './internal/function-library.js';
import { checkWriteBatch } from './internal/packed-row.js';
import { describeError } from './internal/redis-errors.js';

const DEFAULT_REQUEST_TIMEOUT_MILLIS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MILLIS = 1_000;
const DEFAULT_CONNECT_TIMEOUT_MILLIS = 1_000;
const MAX_RECONNECT_DELAY_MILLIS = 1_000;
/** Headroom between a WAIT's own timeout and the client's command timeout. */
const WAIT_TIMEOUT_MARGIN_MILLIS = 100;
const LWW_WRITE_COMMAND = 'tesseraLwwWrite1';

/** Options of {@link RedisClusterOnlineStore}: either `nodes` (the store owns its clients) or `cluster`. */
export interface RedisClusterOnlineStoreOptions {
  /** Startup nodes of the cluster; the store creates, configures and closes its own clients. */
  readonly nodes?: readonly { readonly host: string; readonly port: number }[];
  /** Authentication and TLS of every Redis connection (see @tessera/redis). Default: none. */
  readonly redis?: RedisClientSettings | undefined;
  /**
   * An existing client instead of `nodes`, used for reads and never closed by the store. Writes go
   * through `cluster.duplicate()` (owned and closed by the store), because `WAIT` blocks the
   * connection it runs on. Configure it like the store would (`enableOfflineQueue: false`, a
   * `commandTimeout`), or a dead cluster makes requests wait until their deadline.
   */
  readonly cluster?: Cluster;
  /** Prepended to every entity key, outside the hash tag (so it must not contain `{`). Default ''. */
  readonly keyPrefix?: string;
  /**
   * Timeout of one Redis command: a hung node then counts as failed and is retried. 0 = none
   * (a hung node then holds its requests until their deadline). Default 1,000.
   */
  readonly commandTimeoutMillis?: number;
  /** Deadline of a request that brings no `deadlineMillis`. Default 5,000. */
  readonly requestTimeoutMillis?: number;
  /**
   * Timeout of one connection attempt and of one slot-table refresh; also how long a request
   * waits for a client that is still connecting before answering UNAVAILABLE. Default 1,000.
   */
  readonly connectTimeoutMillis?: number;
}

/** A pipeline with the store's Lua command. */
interface LwwPipeline extends ChainableCommander {
  [LWW_WRITE_COMMAND](key: string, field: string, row: Buffer, retentionMillis: number, nowMillis: number): this;
}

/**
 * Online store on Redis Cluster: one hash per entity key, one field per view version holding a
 * packed row, last-writer-wins by event time in a Lua script (`lua/lww-write-1.lua`). Batches go
 * out as one pipeline per master, all masters in parallel; redirections and failovers are
 * retried until the request deadline. Reads and writes use separate clients, so a write's
 * `WAIT` never delays a read.
 */
export class RedisClusterOnlineStore implements OnlineStore {
  readonly #reader: Cluster;
  readonly #writer: Cluster;
  readonly #ownsReader: boolean;
  readonly #keyPrefix: string;
  readonly #requestTimeoutMillis: number;
  readonly #maxWaitMillis: number;
  readonly #connectWaitMillis: number;
  readonly #readContext: ClusterReadContext;
  /** The first write with events loads the aggregation library on every master (a missing one later: on demand). */
  #libraryLoaded: Promise<void> | undefined;

  constructor(options: RedisClusterOnlineStoreOptions) {
    const keyPrefix = options.keyPrefix ?? '';
    if (keyPrefix.includes('{')) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `keyPrefix "${keyPrefix}" contains "{": the hash tag must stay the entity's`,
      );
    }
    this.#keyPrefix = keyPrefix;
    this.#requestTimeoutMillis = options.requestTimeoutMillis ?? DEFAULT_REQUEST_TIMEOUT_MILLIS;
    this.#connectWaitMillis = options.connectTimeoutMillis ?? DEFAULT_CONNECT_TIMEOUT_MILLIS;
    if (options.cluster !== undefined) {
      this.#reader = options.cluster;
      this.#ownsReader = false;
      this.#writer = options.cluster.duplicate();
    } else if (options.nodes !== undefined && options.nodes.length > 0) {
      this.#reader = createCluster(options);
      this.#ownsReader = true;
      this.#writer = createCluster(options);
      watchErrors(this.#reader, 'reader');
    } else {
      throw new TesseraError('INVALID_ARGUMENT', 'RedisClusterOnlineStore needs `nodes` (at least one) or `cluster`');
    }
    watchErrors(this.#writer, 'writer');
    this.#readContext = {
      reader: this.#reader,
      keyPrefix,
      connectWaitMillis: this.#connectWaitMillis,
    };
    this.#writer.defineCommand(LWW_WRITE_COMMAND, { numberOfKeys: 1, lua: LWW_WRITE_LUA });
    const commandTimeoutMillis = this.#writer.options.redisOptions?.commandTimeout;
    this.#maxWaitMillis =
      commandTimeoutMillis === undefined ? Infinity : Math.max(1, commandTimeoutMillis - WAIT_TIMEOUT_MARGIN_MILLIS);
  }

  /** The client that serves reads (for diagnostics and tests). */
  get cluster(): Cluster {
    return this.#reader;
  }

  read(lookups: readonly OnlineLookup[], options: OnlineReadOptions = {}): Promise<(Uint8Array | null)[][]> {
    return readClusterRows(
      this.#readContext,
      lookups,
      options.deadlineMillis ?? Date.now() + this.#requestTimeoutMillis,
    );
  }

  async write(batch: OnlineWriteBatch, options: OnlineWriteOptions = {}): Promise<OnlineWriteResult> {
    checkWriteBatch(batch.field, batch.ttlMillis, batch.keys, batch.rows);
    if (batch.keys.length === 0) return { applied: 0, stale: 0 };
    const deadlineMillis = options.deadlineMillis ?? Date.now() + this.#requestTimeoutMillis;
    const what = `write of ${batch.keys.length} rows to field ${batch.field}`;
    const keys = batch.keys.map((key) => this.#keyPrefix + key);
    const rows = batch.rows.map(toBuffer);
    const retention = batch.ttlMillis === 0 ? 0 : retentionMillis(batch.ttlMillis);
    const nowMillis = Date.now();
    const events = batch.events;
    // Per key: its events' indexes (in batch order), for the keys that have any.
    const eventsOf = events === undefined ? undefined : groupEventsByKey(events, keys.length);
    let stale = 0;
    let duplicateEvents = 0;
    // Grouped aggregations (§1.8): one more call per (entity, group field), after the entity's keys.
    const groupCalls = groupEventCalls(batch.groupEvents ?? [], keys.length);
    const eventGenerations = new Uint32Array(events?.records.length ?? 0);
    const g = events?.generation ?? 0;
    const dual = events?.dualWrite === true;
    const aggregated = events !== undefined || groupCalls.length > 0;
    if (aggregated) await this.#libraryReady(deadlineMillis);
    const slots = await runPerNode(this.#writer, {
      what,
      // LWW rows by the script's SHA (ioredis falls back to EVAL once per node); events by FCALL.
      command: aggregated ? 'FCALL' : 'EVALSHA',
      keys: groupCalls.length === 0 ? keys : [...keys, ...groupCalls.map((c) => keys[c.key] as string)],
      deadlineMillis,
      connectWaitMillis: this.#connectWaitMillis,
      library: AGG_WRITE_LIBRARY,
      add: (pipeline, k) => {
        if (k >= keys.length) {
          const { key, group, records } = groupCalls[k - keys.length]!;
          // A group field is folded like a view field (§1.8), dual write included (§3.6).
          addAggWrite(pipeline, {
            ...group.events,
            key: keys[key] as string,
            field: group.field,
            row: EMPTY_ROW,
            rowRetentionMillis: 0,
            nowMillis,
            dualWrite: group.events.dualWrite === true,
            marker: '',
            records: records.map((e) => group.events.records[e] as Uint8Array),
          });
          return;
        }
        const mine = eventsOf?.[k];
        if (events === undefined || mine === undefined) {
          (pipeline as LwwPipeline)[LWW_WRITE_COMMAND](
            keys[k] as string,
            batch.field,
            rows[k] as Buffer,
            retention,
            nowMillis,
          );
          return;
        }
        addAggWrite(pipeline, {
          ...events,
          key: keys[k] as string,
          field: batch.field,
          row: rows[k] as Buffer,
          rowRetentionMillis: retention,
          nowMillis,
          dualWrite: dual,
          marker: '',
          records: mine.map((e) => events.records[e] as Uint8Array),
        });
      },
      onReply: (k, reply) => {
        if (k >= keys.length) return; // a group call: `events` answers for every event
        const mine = eventsOf?.[k];
        if (mine === undefined) {
          if (reply === LWW_STALE) stale++;
          return;
        }
        const [lww, flags, duplicates] = reply as [number, string, number];
        if (lww === LWW_STALE) stale++;
        duplicateEvents += duplicates;
        // '0' taken (into G+1 too while dual), '1' a duplicate in G, '2' a duplicate in G+1.
        mine.forEach((e, i) => {
          const flag = flags.charCodeAt(i);
          eventGenerations[e] = flag === 0x31 ? g : flag === 0x32 || dual ? g + 1 : g;
        });
      },
    });
    const replicas = options.replicas ?? 0;
    if (replicas > 0) await waitForReplicas(this.#writer, slots, replicas, deadlineMillis, this.#maxWaitMillis, what);
    if (events === undefined) return { applied: keys.length - stale, stale };
    return { applied: keys.length - stale, stale, duplicateEvents, eventGenerations };
  }

  /**
   * Stores rebuilt entities (design §3.6 step 3; per entity one `agg-write-2.lua` call without an
   * LWW row and with the `ok` marker, one pipeline per master): the snapshot events fold into what
   * the target generation holds; an entity whose marker exists is skipped.
   */
  async writeRebuilt(batch: OnlineRebuildBatch, options: OnlineWriteOptions = {}): Promise<OnlineRebuildResult> {
    if (!Number.isInteger(batch.generation) || batch.generation < 1) {
      throw new TesseraError('INTERNAL', `Rebuild of field ${batch.field}: generation ${batch.generation} is not ≥ 1`);
    }
    if (batch.entities.length === 0) return { written: 0, skipped: 0 };
    const deadlineMillis = options.deadlineMillis ?? Date.now() + this.#requestTimeoutMillis;
    const keys = batch.entities.map((entity) => this.#keyPrefix + entity.key);
    let written = 0;
    let skipped = 0;
    await this.#libraryReady(deadlineMillis);
    const slots = await runPerNode(this.#writer, {
      what: `rebuild of ${keys.length} entities of field ${batch.field}`,
      command: 'FCALL',
      keys,
      deadlineMillis,
      connectWaitMillis: this.#connectWaitMillis,
      library: AGG_WRITE_LIBRARY,
      add: (pipeline, k) => {
        const entity = batch.entities[k] as RebuiltEntity;
        const field = entity.field ?? batch.field; // a group field (§1.8) is rebuilt like the view's
        addAggWrite(pipeline, {
          key: keys[k] as string,
          field,
          row: EMPTY_ROW,
          rowRetentionMillis: 0,
          nowMillis: batch.nowMillis,
          plan: batch.plan,
          generation: batch.generation,
          acceptedAtMillis: batch.nowMillis,
          latenessMillis: batch.latenessMillis,
          retentionMillis: batch.retentionMillis,
          dualWrite: false,
          marker: rebuildMarkerField(field, batch.generation),
          records: entity.records,
        });
      },
      onReply: (_k, reply) => {
        if ((reply as number[])[0] === -1) skipped++;
        else written++;
      },
    });
    const replicas = options.replicas ?? 0;
    if (replicas > 0) {
      await waitForReplicas(this.#writer, slots, replicas, deadlineMillis, this.#maxWaitMillis, 'rebuild');
    }
    return { written, skipped };
  }

  /**
   * Loads the aggregation library on every master once, before the first write that needs it (best
   * effort: a master that still lacks it, now or after a failover or `FUNCTION FLUSH`, gets it when
   * its FCALL answers "Function not found").
   */
  #loadLibraryOnce(): Promise<void> {
    this.#libraryLoaded ??= loadFunctionLibrary(this.#writer, undefined, AGG_WRITE_LIBRARY, 'aggregation writes').catch(
      (error: unknown) => debugOnline(`aggregation library not loaded up front: ${describeError(error)}`),
    );
    return this.#libraryLoaded;
  }

  /**
   * Waits for the up-front load at most until `deadlineMillis`: the load is shared by every write
   * and best effort, so a slow one must not hold a write past its deadline — the write goes on and
   * loads the library where its FCALL finds it missing.
   */
  async #libraryReady(deadlineMillis: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadlineMillis - Date.now()));
    });
    try {
      await Promise.race([this.#loadLibraryOnce(), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  async ping(): Promise<void> {
    const deadlineMillis = Date.now() + this.#requestTimeoutMillis;
    await ensureClusterReady(this.#reader, deadlineMillis, this.#connectWaitMillis, 'ping');
    const masters = this.#reader.nodes('master');
    if (masters.length === 0) throw new TesseraError('UNAVAILABLE', 'Redis Cluster ping: no master is connected');
    const pings = Promise.all(masters.map((node) => node.ping())).catch((error: unknown) => {
      throw new TesseraError('UNAVAILABLE', `Redis Cluster ping failed: ${describeError(error)}`, { cause: error });
    });
    await withDeadline(pings, deadlineMillis, 'Redis Cluster ping');
  }

  async close(): Promise<void> {
    const owned = this.#ownsReader ? [this.#reader, this.#writer] : [this.#writer];
    await Promise.all(owned.filter((c) => c.status !== 'end').map((c) => c.quit().catch(() => c.disconnect())));
  }
}

const EMPTY_ROW = Buffer.alloc(0);

function createCluster(options: RedisClusterOnlineStoreOptions): Cluster {
  const connectTimeoutMillis = options.connectTimeoutMillis ?? DEFAULT_CONNECT_TIMEOUT_MILLIS;
  return createRedisCluster({
    ...options.redis,
    nodes: options.nodes ?? [],
    // Fail fast instead of queueing while disconnected: the store answers UNAVAILABLE and the
    // caller (or the next request) retries; reconnection keeps going in the background.
    enableOfflineQueue: false,
    reconnectStepMillis: 50,
    maxReconnectDelayMillis: MAX_RECONNECT_DELAY_MILLIS,
    slotsRefreshTimeoutMillis: connectTimeoutMillis,
    connectTimeoutMillis,
    // 0 = no per-command timeout.
    commandTimeoutMillis: options.commandTimeoutMillis ?? DEFAULT_COMMAND_TIMEOUT_MILLIS,
    maxRetriesPerRequest: 1,
  });
}

/** A Cluster without an 'error' listener would crash the process when Redis goes away. */
function watchErrors(cluster: Cluster, role: string): void {
  cluster.on('error', (error: unknown) => debugOnline(`${role} client error: ${describeError(error)}`));
}
