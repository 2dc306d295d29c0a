import { TesseraError, validateWriteBatch, viewField } from '@tessera/core';
import type { OnlineStore, RegisteredView } from '@tessera/core';
import { columnRowCount, fromColumn } from '@tessera/client';
import { Durability, WriteTarget } from '@tessera/proto';
import type { WriteRequest, WriteResponse } from '@tessera/proto';

export interface WriteLimits {
  /** Most rows one Write message may carry. */
  readonly maxBatchRows: number;
}

/**
 * Validates a whole Write batch, then writes it online with last-writer-wins. Nothing is
 * written unless every row is valid. Offline targets answer UNIMPLEMENTED until the offline
 * store exists: a write is never silently dropped.
 */
export async function executeWrite(
  store: OnlineStore,
  view: RegisteredView,
  request: WriteRequest,
  limits: WriteLimits,
  deadlineMillis: number | undefined,
): Promise<WriteResponse> {
  const label = `${view.name}@${view.version}`;
  switch (request.target) {
    case WriteTarget.WRITE_TARGET_ONLINE:
      break;
    case WriteTarget.WRITE_TARGET_UNSPECIFIED:
    case WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE:
    case WriteTarget.WRITE_TARGET_OFFLINE:
    case WriteTarget.UNRECOGNIZED:
      throw new TesseraError(
        'UNIMPLEMENTED',
        `Write to ${label}: the offline store is not available yet (target ${WriteTarget[request.target]}; the default target is online+offline); write with target WRITE_TARGET_ONLINE`,
      );
  }
  if (request.durability === Durability.DURABILITY_SYNC) {
    throw new TesseraError(
      'UNIMPLEMENTED',
      `Write to ${label}: durability SYNC writes offline, which is not available yet; use DURABILITY_WRITE_BEHIND or DURABILITY_REPLICATED`,
    );
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
  const keys = batch.entityKeys;
  const replicas = request.durability === Durability.DURABILITY_REPLICATED ? 1 : 0;
  const result = await store.write(
    { field: viewField(view.id, view.version), ttlMillis: view.ttlSeconds * 1000, keys, rows: batch.rows },
    { replicas, ...(deadlineMillis === undefined ? {} : { deadlineMillis }) },
  );
  return {
    rows: BigInt(batch.rowCount),
    rowsAppliedOnline: BigInt(result.applied),
    rowsStaleOnline: BigInt(result.stale),
  };
}
