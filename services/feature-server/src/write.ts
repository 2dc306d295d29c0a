import { createHash } from 'node:crypto';
import {
  MIN_EVENT_TS_MILLIS,
  TesseraError,
  isEventView,
  quoteInput,
  showName,
  validateWriteBatch,
  withOnlineGenerations,
} from '@tessera/core';
import type {
  IdempotencyStore,
  OfflineBatch,
  OfflineStore,
  OnlineStore,
  OnlineWriteResult,
  Problem,
  RegisteredView,
  ValidatedBatch,
  WriteBehind,
} from '@tessera/core';
import { MAX_DATETIME64_MILLIS, MIN_DATETIME64_MILLIS } from '@tessera/offline';
import { columnRowCount, fromColumn } from '@tessera/wire';
import { Durability, WriteTarget } from '@tessera/proto';
import type { WriteRequest, WriteResponse } from '@tessera/proto';
import { MAX_IDEMPOTENCY_KEY_LENGTH, idempotencyToken } from '@tessera/online';
import type { ServerTelemetry } from './server-telemetry.js';
import { assertEventTargets, eventRows, onlineWriteOf } from './write-events.js';
import type { TileGenerations, InFlightWrite } from './tile-generations.js';
import { checkDeadline } from './deadline.js';

export interface WriteLimits {
  /** Most rows one Write message may carry. */
  readonly maxBatchRows: number;
  /** How far past the server's clock an event time may be, ms (see FeatureStoreLimits). */
  readonly maxEventTimeSkewMillis: number;
}

/** Default of `maxEventTimeSkewMillis`: one day. */
export const DEFAULT_MAX_EVENT_TIME_SKEW_MILLIS = 86_400_000;

/** What a Write goes to: the online store, the offline store for sync writes, write-behind otherwise. */
export interface WriteStores {
  readonly online: OnlineStore;
  readonly offline: OfflineStore | undefined;
  readonly writeBehind: WriteBehind;
  readonly idempotency: IdempotencyStore;
  /** Where background failures are logged and the newest event written per view is noted. */
  readonly telemetry?: ServerTelemetry;
  /** Test-only clock (epoch ms) for `acceptedAt` and reads; never set in production. Default `Date.now`. */
  readonly clock?: () => number;
  /** The served tile generation of each event view (design §3.6); generation 1 without it. */
  readonly tileGenerations?: TileGenerations;
}

/** How long a Write waits for another in flight under the same idempotency key before answering UNAVAILABLE, ms. */
const IDEMPOTENCY_WAIT_MILLIS = 5_000;

/**
 * Validates a whole Write batch, then writes it. Nothing is written unless every row is valid; a
 * target this server cannot serve is refused, never silently dropped.
 * - Offline by write-behind (the default): the online write and the durable enqueue of the offline
 *   rows happen together; the answer waits for both, never for ClickHouse.
 * - `DURABILITY_SYNC`: offline first (one insert, with a deduplication token derived from the
 *   batch so a retried write adds nothing twice), then online (an event view's events: online
 *   first, so the insert carries the fold's answer as `online_gen`).
 * - `DURABILITY_REPLICATED`: write-behind, and both the online rows and the queued job are
 *   acknowledged by a replica (Redis `WAIT 1`) before the answer.
 * Online writes are last-writer-wins by event time (idempotent by nature).
 *
 * Event views (docs/design/window-aggregations.md §1.2, §1.3): the Write takes one acceptance time
 * `acceptedAt`; each row of a live write (online and offline) is eligible, late or future by it, and
 * every offline row carries its event fingerprint. Eligible rows land in the main offline table, the
 * others in `__excluded`; history writes (offline only) are always eligible. Target online alone on
 * an event view with aggregations is refused: its events would be missing offline.
 */
export async function executeWrite(
  stores: WriteStores,
  view: RegisteredView,
  request: WriteRequest,
  limits: WriteLimits,
  deadlineMillis: number | undefined,
): Promise<WriteResponse> {
  const label = `${view.name}@${view.version}`;
  const { online, offline } = targets(request.target, label);
  assertEventTargets(view, online, offline, label);
  const sync = request.durability === Durability.DURABILITY_SYNC;
  if (offline && sync && !stores.offline) {
    throw new TesseraError(
      'UNAVAILABLE',
      `Write to ${label}: this server has no ClickHouse connection for DURABILITY_SYNC offline writes; leave durability unset (write-behind) or use target WRITE_TARGET_ONLINE`,
    );
  }
  if (request.idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Write to ${label}: the idempotency key has ${request.idempotencyKey.length} characters, at most ${MAX_IDEMPOTENCY_KEY_LENGTH} are allowed`,
    );
  }
  const columns = new Map<string, unknown[]>();
  let rows = 0;
  for (const [name, column] of Object.entries(request.columns)) {
    try {
      columns.set(name, fromColumn(column));
    } catch (error) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `Write to ${label} rejected: column ${showName(name)}: ${(error as Error).message}`,
      );
    }
    rows = Math.max(rows, columnRowCount(column));
  }
  if (rows > limits.maxBatchRows) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Write to ${label} rejected: ${rows} rows exceed the limit of ${limits.maxBatchRows} rows per message (maxBatchRows); split the batch or use WriteStream`,
    );
  }
  let eventTimestamps: unknown[] = [];
  try {
    if (request.eventTimestamps) eventTimestamps = fromColumn(request.eventTimestamps);
  } catch (error) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Write to ${label} rejected: event timestamps: ${(error as Error).message}`,
    );
  }
  const batch = validateWriteBatch(
    view,
    { columns, eventTimestamps },
    {
      maxEventTimeSkewMillis: limits.maxEventTimeSkewMillis,
      minEventTsMillis: MIN_EVENT_TS_MILLIS,
      ...(stores.clock === undefined ? {} : { nowMillis: stores.clock() }),
    },
  );
  if (offline) assertOfflineTimestamps(view, batch, label);
  checkDeadline(deadlineMillis, label);
  const perform = (token: string | undefined) => {
    // The last point where the write may still be refused whole: past it, it runs to its end.
    checkDeadline(deadlineMillis, label);
    const gen = online ? stores.tileGenerations?.beginWrite(view) : undefined; // in flight for the rebuild barrier
    const how = { online, offline, sync, token, gen };
    return performWrite(stores, view, request, batch, how, deadlineMillis).finally(() => gen?.done());
  };
  if (request.idempotencyKey === '') return answerByDeadline(perform(undefined), deadlineMillis, label);
  const key = request.idempotencyKey;
  const digest = createHash('sha256')
    // What the write does, not how it was spelled: an unset target or durability is its default, so
    // a retry from a client that names the default is the same write.
    .update(
      `${label}\n${online ? 'online' : ''}+${offline ? 'offline' : ''}\n${durabilityMeaning(request.durability)}\n`,
    )
    .update(batchDigest(label, batch.entityKeys, batch.rows))
    .digest('hex');
  const waitUntil = Math.min(deadlineMillis ?? Infinity, Date.now() + IDEMPOTENCY_WAIT_MILLIS);
  for (;;) {
    const claim = await stores.idempotency.claim(key, digest);
    switch (claim.kind) {
      case 'done':
        return {
          rows: BigInt(claim.result.rows),
          rowsAppliedOnline: BigInt(claim.result.rowsAppliedOnline),
          rowsStaleOnline: BigInt(claim.result.rowsStaleOnline),
          rowsExcludedLate: BigInt(claim.result.rowsExcludedLate ?? '0'),
          rowsExcludedFuture: BigInt(claim.result.rowsExcludedFuture ?? '0'),
          rowsDuplicateEvents: BigInt(claim.result.rowsDuplicateEvents ?? '0'),
        };
      case 'mismatch':
        throw new TesseraError(
          'FAILED_PRECONDITION',
          `Write to ${label}: idempotency key ${quoteInput(key, 64)} was used for a different write within the retention window; use a new key for a new write`,
        );
      case 'pending':
        if (Date.now() >= waitUntil) {
          throw new TesseraError(
            'UNAVAILABLE',
            `Write to ${label}: a write with idempotency key ${quoteInput(key, 64)} is still in progress; retry to get its result`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      case 'new': {
        // The claim follows the write, not the answer: a write that outlives its caller's deadline
        // still records its result (or frees the key if it fails), so a retry under the same key
        // waits for it or returns its result, and never writes the rows a second time.
        const settled = (async () => {
          let response: WriteResponse;
          try {
            response = await perform(idempotencyToken(key, digest));
          } catch (error) {
            await stores.idempotency.release(key, digest).catch(() => undefined);
            throw error;
          }
          // The write is made: a failure to record its result must not report it as failed. A repeat
          // then waits out the pending claim and writes again (online LWW, offline the same token).
          await stores.idempotency
            .complete(key, digest, {
              rows: String(response.rows),
              rowsAppliedOnline: String(response.rowsAppliedOnline),
              rowsStaleOnline: String(response.rowsStaleOnline),
              rowsExcludedLate: String(response.rowsExcludedLate),
              rowsExcludedFuture: String(response.rowsExcludedFuture),
              rowsDuplicateEvents: String(response.rowsDuplicateEvents),
            })
            .catch((error: unknown) =>
              stores.telemetry?.logger.warn(
                { err: error, view: view.name, version: view.version, idempotency_key: quoteInput(key, 64) },
                `Write to ${label}: its result was not recorded under its idempotency key; a retry writes it again (online LWW, offline under the same token)`,
              ),
            );
          return response;
        })();
        return answerByDeadline(settled, deadlineMillis, label);
      }
    }
  }
}

/** The writes of a validated batch: offline (sync or write-behind) and online, as the request asks. */
async function performWrite(
  stores: WriteStores,
  view: RegisteredView,
  request: WriteRequest,
  batch: ValidatedBatch,
  how: { online: boolean; offline: boolean; sync: boolean; token: string | undefined; gen: InFlightWrite | undefined },
  deadlineMillis: number | undefined,
): Promise<WriteResponse> {
  const label = `${view.name}@${view.version}`;
  const { online, offline, sync, gen } = how;
  const deadline = deadlineMillis === undefined ? {} : { deadlineMillis };
  // One acceptance time per Write: the eligibility of every row of the batch is decided by it.
  const acceptedAtMillis = stores.clock?.() ?? Date.now();
  const events = isEventView(view)
    ? eventRows(stores.telemetry, view, batch, online, offline, acceptedAtMillis)
    : undefined;
  const offlineBatch: OfflineBatch = {
    joinKeyValues: batch.joinKeyValues,
    eventTsMillis: batch.eventTsMillis,
    featureValues: batch.featureValues,
    ...events?.offline,
  };
  const replicas = request.durability === Durability.DURABILITY_REPLICATED ? 1 : 0;
  const onlineWrite = online ? onlineWriteOf(view, batch, events?.offline, acceptedAtMillis, replicas, gen) : undefined;
  // Once committing, the write runs to its end whatever the caller's deadline (the answer is
  // bounded by `answerByDeadline`, the work by the stores' own timeouts): a deadline in the
  // middle would leave it half done. A sync write's offline insert may still be cut by the
  // deadline: nothing is written online then — except for an event view's events, which are
  // folded online first so the insert records the fold's answer (`online_gen`, design §1.6).
  const foldFirst = onlineWrite?.batch.events !== undefined;
  let result: OnlineWriteResult | undefined;
  if (offline && sync && stores.offline) {
    if (foldFirst) result = await stores.online.write(onlineWrite.batch, onlineWrite.options);
    await stores.offline.insert(view, withOnlineGenerations(offlineBatch, onlineWrite, result), {
      dedupToken: how.token ?? batchDigest(label, batch.entityKeys, batch.rows),
      ...deadline,
    });
  }
  if (offline && !sync) {
    result = await stores.writeBehind.write(view, offlineBatch, onlineWrite, {
      replicas,
      ...(how.token === undefined ? {} : { token: how.token }),
    });
  } else if (onlineWrite && !(sync && foldFirst && offline)) {
    result = await stores.online.write(onlineWrite.batch, onlineWrite.options);
  }
  noteNewestEvent(stores.telemetry, view, batch.eventTsMillis);
  const counts = {
    rowsExcludedLate: BigInt(events?.late ?? 0),
    rowsExcludedFuture: BigInt(events?.future ?? 0),
    rowsDuplicateEvents: BigInt(result?.duplicateEvents ?? 0),
  };
  if (result === undefined) {
    return { rows: BigInt(batch.rowCount), rowsAppliedOnline: 0n, rowsStaleOnline: 0n, ...counts };
  }
  return {
    rows: BigInt(batch.rowCount),
    rowsAppliedOnline: BigInt(result.applied),
    // Rows superseded within the batch count as stale: a newer event of their entity won.
    rowsStaleOnline: BigInt(result.stale + batch.rowCount - onlineWrite!.batch.keys.length),
    ...counts,
  };
}

/**
 * The write's answer, or DEADLINE_EXCEEDED once the deadline passes. The write then goes on to its
 * end (whole, or not at all): retry with the same idempotency key to learn its result.
 */
async function answerByDeadline<T>(work: Promise<T>, deadlineMillis: number | undefined, label: string): Promise<T> {
  if (deadlineMillis === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TesseraError(
            'DEADLINE_EXCEEDED',
            `Write to ${label}: the deadline passed while the write was committing; it lands whole or not at all — retry with the same idempotency key to learn which, without writing twice`,
          ),
        ),
      Math.max(0, deadlineMillis - Date.now()),
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a durability does (an unset one is write-behind), for telling writes apart. */
function durabilityMeaning(durability: Durability): string {
  if (durability === Durability.DURABILITY_SYNC) return 'sync';
  if (durability === Durability.DURABILITY_REPLICATED) return 'replicated';
  return 'write-behind';
}

/** Which stores a target writes; unset means online and offline. */
function targets(target: WriteTarget, label: string): { online: boolean; offline: boolean } {
  switch (target) {
    case WriteTarget.WRITE_TARGET_UNSPECIFIED:
    case WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE:
      return { online: true, offline: true };
    case WriteTarget.WRITE_TARGET_ONLINE:
      return { online: true, offline: false };
    case WriteTarget.WRITE_TARGET_OFFLINE:
      return { online: false, offline: true };
    case WriteTarget.UNRECOGNIZED:
    default:
      throw new TesseraError('INVALID_ARGUMENT', `Write to ${label}: target = ${String(target)} is not a known value`);
  }
}

/** A digest of a validated batch: the same rows for the same view version give the same token. */
function batchDigest(label: string, keys: readonly string[], rows: readonly Uint8Array[]): string {
  // Every part length-prefixed, so two different batches never hash the same bytes.
  const length = Buffer.alloc(4);
  const hash = createHash('sha256');
  const framed = (part: string | Uint8Array): void => {
    const bytes = typeof part === 'string' ? Buffer.from(part) : part;
    length.writeUInt32BE(bytes.length);
    hash.update(length).update(bytes);
  };
  framed(label);
  for (let i = 0; i < keys.length; i++) {
    framed(keys[i]!);
    framed(rows[i]!);
  }
  return hash.digest('hex');
}

const RANGE_RULE = 'offline timestamps must be between 1900-01-01T00:00:00Z and 2299-12-31T23:59:59.999Z';

/**
 * Timestamps the offline store cannot hold (ClickHouse DateTime64: 1900–2299) refuse the whole
 * Write up front, naming the row and column: accepted, they would reach ClickHouse only to fail.
 */
function assertOfflineTimestamps(view: RegisteredView, batch: ValidatedBatch, label: string): void {
  const problems: Problem[] = [];
  const outside = (millis: number) => millis < MIN_DATETIME64_MILLIS || millis > MAX_DATETIME64_MILLIS;
  batch.eventTsMillis.forEach((millis, row) => {
    if (outside(millis)) problems.push({ path: `row ${row}, column event_ts`, message: RANGE_RULE });
  });
  view.features.forEach((feature, f) => {
    if (feature.type !== 'timestamp') return;
    (batch.featureValues[f] ?? []).forEach((value, row) => {
      if (typeof value === 'number' && outside(value)) {
        problems.push({ path: `row ${row}, column ${feature.name}`, message: RANGE_RULE });
      }
    });
  });
  if (problems.length > 0) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Write to ${label} rejected: ${problems.length} timestamp(s) outside what the offline store holds (first: ${problems[0]?.path ?? ''}); nothing was written`,
      { details: problems },
    );
  }
}

/** Notes the newest event time of a written batch for the view's freshness (one pass, metrics on only). */
function noteNewestEvent(
  telemetry: ServerTelemetry | undefined,
  view: RegisteredView,
  eventTsMillis: Float64Array,
): void {
  const freshness = telemetry?.freshness(view);
  if (freshness === undefined) return;
  let newest = Number.NEGATIVE_INFINITY;
  for (const at of eventTsMillis) if (at > newest) newest = at;
  freshness.written(newest);
}
