import { createHash } from 'node:crypto';
import { TesseraError, validateWriteBatch, viewField } from '@tessera/core';
import type { OfflineStore, OnlineStore, RegisteredView } from '@tessera/core';
import { columnRowCount, fromColumn } from '@tessera/client';
import { Durability, WriteTarget } from '@tessera/proto';
import type { WriteRequest, WriteResponse } from '@tessera/proto';

export interface WriteLimits {
  /** Most rows one Write message may carry. */
  readonly maxBatchRows: number;
}

/**
 * Validates a whole Write batch, then writes it: offline first (one insert, with a deduplication
 * token derived from the batch so a retried write adds nothing twice), then online with
 * last-writer-wins (idempotent by nature). Nothing is written unless every row is valid; a
 * target this server cannot serve is refused, never silently dropped.
 */
export async function executeWrite(
  stores: { readonly online: OnlineStore; readonly offline: OfflineStore | undefined },
  view: RegisteredView,
  request: WriteRequest,
  limits: WriteLimits,
  deadlineMillis: number | undefined,
): Promise<WriteResponse> {
  const label = `${view.name}@${view.version}`;
  const { online, offline } = targets(request.target, label);
  if (offline) {
    if (!stores.offline)
      throw new TesseraError(
        'UNAVAILABLE',
        `Write to ${label}: this server runs without an offline store; write with target WRITE_TARGET_ONLINE`,
      );
    if (request.durability === Durability.DURABILITY_WRITE_BEHIND) {
      throw new TesseraError(
        'UNIMPLEMENTED',
        `Write to ${label}: write-behind offline writes are not available yet; leave durability unset or use DURABILITY_SYNC (the offline insert happens before the answer)`,
      );
    }
  }
  if (request.idempotencyKey !== '') {
    throw new TesseraError(
      'UNIMPLEMENTED',
      `Write to ${label}: idempotency keys are not supported yet; send the write without one`,
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
        `Write to ${label} rejected: column ${name}: ${(error as Error).message}`,
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
  const eventTimestamps = request.eventTimestamps ? fromColumn(request.eventTimestamps) : [];
  const batch = validateWriteBatch(view, { columns, eventTimestamps });
  const deadline = deadlineMillis === undefined ? {} : { deadlineMillis };
  if (offline && stores.offline) {
    await stores.offline.insert(
      view,
      { joinKeyValues: batch.joinKeyValues, eventTsMillis: batch.eventTsMillis, featureValues: batch.featureValues },
      { dedupToken: batchDigest(label, batch.entityKeys, batch.rows), ...deadline },
    );
  }
  if (!online) return { rows: BigInt(batch.rowCount), rowsAppliedOnline: 0n, rowsStaleOnline: 0n };
  const replicas = request.durability === Durability.DURABILITY_REPLICATED ? 1 : 0;
  // A backfill may carry several events per entity; online only the latest of each matters.
  const latest = batch.latestRowPerKey;
  const everyRow = latest.length === batch.rowCount;
  const result = await stores.online.write(
    {
      field: viewField(view.id, view.version),
      ttlMillis: view.ttlSeconds * 1000,
      keys: everyRow ? batch.entityKeys : latest.map((r) => batch.entityKeys[r]!),
      rows: everyRow ? batch.rows : latest.map((r) => batch.rows[r]!),
    },
    { replicas, ...deadline },
  );
  return {
    rows: BigInt(batch.rowCount),
    rowsAppliedOnline: BigInt(result.applied),
    // Rows superseded within the batch count as stale: a newer event of their entity won.
    rowsStaleOnline: BigInt(result.stale + batch.rowCount - latest.length),
  };
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
      throw new TesseraError('INVALID_ARGUMENT', `Write to ${label}: unknown target ${String(target)}`);
  }
}

/** A digest of a validated batch: the same rows for the same view version give the same token. */
function batchDigest(label: string, keys: readonly string[], rows: readonly Uint8Array[]): string {
  const hash = createHash('sha256').update(label);
  for (let i = 0; i < keys.length; i++) {
    hash.update(keys[i]!);
    hash.update(rows[i]!);
  }
  return hash.digest('hex');
}
