/**
 * Offline rows on the wire: a batch to insert and the latest rows read back, as the typed columns
 * of @tessera/wire (one per join key, one per feature) beside the event and creation times.
 */
import {
  FINGERPRINT_BYTES,
  TesseraError,
  type FeatureValue,
  type JoinKeyValue,
  type OfflineBatch,
  type OfflineRow,
  type RegisteredView,
  type ValueType,
} from '@tessera/core';
import type { Column, InsertRequest, LatestRowsBatch } from '@tessera/proto';
import { columnRowCount, columnValueType, fromColumn, toColumn } from '@tessera/wire';
import { toWireView } from './views.js';
import { MAX_TS_MILLIS, MIN_TS_MILLIS, checkTimeMillis } from './bounds.js';

/** The columns of a batch: join keys by row become one column per key. */
export function toInsertRequest(view: RegisteredView, batch: OfflineBatch, dedupToken: string): InsertRequest {
  const rows = batch.eventTsMillis.length;
  return {
    view: toWireView(view),
    joinKeys: keyColumns(view, batch.joinKeyValues, rows),
    eventTsMillis: Array.from(batch.eventTsMillis),
    features: batch.featureValues.map((values, f) => toColumn(featureType(view, f), values)),
    createdTsMicros: batch.createdTsMicros === undefined ? [] : Array.from(batch.createdTsMicros),
    dedupToken,
    fingerprints: Buffer.from(batch.fingerprints ?? []),
    exclusions: Buffer.from(batch.exclusions ?? []),
    onlineGenerations: batch.onlineGenerations === undefined ? [] : Array.from(batch.onlineGenerations),
  };
}

/** The batch of an Insert, every column checked against the view and the row count. */
export function fromInsertRequest(view: RegisteredView, request: InsertRequest): OfflineBatch {
  const rows = request.eventTsMillis.length;
  const label = `Insert into ${view.name}@${view.version}`;
  if (request.features.length > view.features.length) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: ${request.features.length} feature columns, the view has ${view.features.length}`,
    );
  }
  if (request.createdTsMicros.length !== 0 && request.createdTsMicros.length !== rows) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: ${request.createdTsMicros.length} created times for ${rows} rows`,
    );
  }
  if (request.fingerprints.length !== 0 && request.fingerprints.length !== rows * FINGERPRINT_BYTES) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: ${request.fingerprints.length} fingerprint bytes for ${rows} rows (${FINGERPRINT_BYTES} per row)`,
    );
  }
  if (request.exclusions.length !== 0 && request.exclusions.length !== rows) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: ${request.exclusions.length} exclusion codes for ${rows} rows`,
    );
  }
  if (request.onlineGenerations.length !== 0 && request.onlineGenerations.length !== rows) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: ${request.onlineGenerations.length} online generations for ${rows} rows`,
    );
  }
  for (let row = 0; row < rows; row++)
    checkTimeMillis(request.eventTsMillis[row] as number, `row ${row}: event_ts_millis`, label);
  for (let row = 0; row < request.createdTsMicros.length; row++) {
    const micros = request.createdTsMicros[row] as bigint;
    if (micros < BigInt(MIN_TS_MILLIS) * 1000n || micros > BigInt(MAX_TS_MILLIS) * 1000n + 999n) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `${label}: row ${row}: created_ts_micros ${micros} is outside DateTime64's range (1900-01-01 to 2299-12-31)`,
      );
    }
  }
  if (request.exclusions.some((code) => code > 2)) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: exclusion codes are 0 (eligible), 1 (late) or 2 (future)`);
  }
  return {
    joinKeyValues: keysByRow(view, request.joinKeys, rows, label),
    eventTsMillis: Float64Array.from(request.eventTsMillis),
    featureValues: request.features.map((column, f) =>
      readColumn(column, featureType(view, f), rows, `${label}: feature ${view.features[f]?.name ?? f}`),
    ),
    ...(request.createdTsMicros.length === 0 ? {} : { createdTsMicros: BigInt64Array.from(request.createdTsMicros) }),
    ...(request.fingerprints.length === 0 ? {} : { fingerprints: Uint8Array.from(request.fingerprints) }),
    ...(request.exclusions.length === 0 ? {} : { exclusions: Uint8Array.from(request.exclusions) }),
    ...(request.onlineGenerations.length === 0
      ? {}
      : { onlineGenerations: Uint32Array.from(request.onlineGenerations) }),
  };
}

/** Latest rows as columns. */
export function toLatestRowsBatch(view: RegisteredView, rows: readonly OfflineRow[]): LatestRowsBatch {
  return {
    joinKeys: keyColumns(
      view,
      rows.map((r) => r.keys),
      rows.length,
    ),
    eventTsMillis: rows.map((r) => r.eventTsMillis),
    features: view.features.map((feature, f) =>
      toColumn(
        feature.type,
        rows.map((r) => r.features[f] ?? null),
      ),
    ),
  };
}

/** Latest rows read back from columns. */
export function fromLatestRowsBatch(view: RegisteredView, batch: LatestRowsBatch): OfflineRow[] {
  const count = batch.eventTsMillis.length;
  const label = `LatestRows of ${view.name}@${view.version}`;
  const keys = keysByRow(view, batch.joinKeys, count, label);
  const features = batch.features.map((column, f) =>
    readColumn(column, featureType(view, f), count, `${label}: feature ${f}`),
  );
  const rows: OfflineRow[] = new Array<OfflineRow>(count);
  for (let i = 0; i < count; i++) {
    rows[i] = {
      keys: [...(keys[i] as readonly JoinKeyValue[])],
      eventTsMillis: batch.eventTsMillis[i] as number,
      features: features.map((values) => values[i] as FeatureValue),
    };
  }
  return rows;
}

function featureType(view: RegisteredView, index: number): ValueType {
  const feature = view.features[index];
  if (feature === undefined) {
    throw new TesseraError('INVALID_ARGUMENT', `${view.name}@${view.version} has no feature #${index}`);
  }
  return feature.type;
}

function keyColumns(view: RegisteredView, byRow: readonly (readonly JoinKeyValue[])[], rows: number): Column[] {
  return view.joinKeys.map((key, k) => {
    const values = new Array<FeatureValue>(rows);
    for (let i = 0; i < rows; i++) values[i] = byRow[i]?.[k] ?? null;
    return toColumn(key.type, values);
  });
}

function keysByRow(
  view: RegisteredView,
  columns: readonly Column[],
  rows: number,
  label: string,
): (readonly JoinKeyValue[])[] {
  if (columns.length !== view.joinKeys.length) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: ${columns.length} join key columns, the view has ${view.joinKeys.length}`,
    );
  }
  const values = columns.map((column, k) => {
    const key = view.joinKeys[k] as RegisteredView['joinKeys'][number];
    const read = readColumn(column, key.type, rows, `${label}: join key ${key.name}`);
    if (column.nullRows.length > 0) {
      throw new TesseraError('INVALID_ARGUMENT', `${label}: join key ${key.name} has null rows`);
    }
    return read as JoinKeyValue[];
  });
  const out = new Array<readonly JoinKeyValue[]>(rows);
  for (let i = 0; i < rows; i++) out[i] = values.map((column) => column[i] as JoinKeyValue);
  return out;
}

/** A column's values, refused (INVALID_ARGUMENT naming it) when its type or length is not the expected one. */
function readColumn(column: Column, type: ValueType, rows: number, label: string): FeatureValue[] {
  const actual = columnValueType(column);
  if (actual !== type) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: a ${type} column was expected, got ${actual ?? 'none'}`);
  }
  const count = columnRowCount(column);
  if (count !== rows) throw new TesseraError('INVALID_ARGUMENT', `${label}: ${count} values for ${rows} rows`);
  try {
    return fromColumn(column);
  } catch (error) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: ${(error as Error).message}`, { cause: error });
  }
}
