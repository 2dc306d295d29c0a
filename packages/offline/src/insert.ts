/**
 * Offline writes: one validated batch of one view version becomes one ClickHouse insert of a
 * TabSeparated payload (values never enter SQL text), with the batch's deduplication token.
 */
import {
  EXCLUSION_FUTURE,
  EXCLUSION_LATE,
  EXCLUSION_NONE,
  FINGERPRINT_BYTES,
  TesseraError,
  batchFingerprints,
  isEventView,
  nowMicros,
  type FeatureValue,
  type OfflineBatch,
  type OfflineInsertOptions,
  type RegisteredView,
} from '@tessera/core';
import type { ClickHouseExecutor } from './executor.js';
import { offlineTablesOf, qualifiedName, type OfflineTable, type ViewShape } from './ddl.js';
import { encodeTabSeparated, formatDateTime64Micros, type TsvColumn } from './tsv.js';

/** Options of {@link insertOfflineBatch}. */
export interface InsertBatchOptions extends OfflineInsertOptions {
  /**
   * `created_ts` of every row, µs since the epoch; default: now. Among rows with the same key and
   * event time the latest `created_ts` wins, and it makes two identical batches two different
   * inserts (a non-replicated table with a deduplication window also drops repeated *content*).
   */
  readonly createdTsMicros?: bigint;
  /** Extra ClickHouse settings of the insert (cluster mode sets `distributed_foreground_insert`). */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
}

/** An encoded insert: the payload and the columns it holds, in payload order. */
export interface EncodedBatch {
  readonly payload: Buffer;
  readonly columns: readonly string[];
  readonly rowCount: number;
}

/**
 * What an insert needs of a view: its shape, and for an event view whose batch carries no
 * fingerprints (a job queued before they were carried) the id and entities they are computed from.
 */
export type InsertViewShape = ViewShape & Partial<Pick<RegisteredView, 'id' | 'entities'>>;

/**
 * Encodes a batch of `view` as the TabSeparated payload of `table` (default: its main table). An
 * event view's batch must carry its fingerprints (and, for the `__excluded` table, its exclusions).
 */
export function encodeOfflineBatch(
  view: ViewShape,
  batch: OfflineBatch,
  createdTsMicros: bigint,
  table: OfflineTable = offlineTablesOf(view)[0] as OfflineTable,
): EncodedBatch {
  const rowCount = batch.eventTsMillis.length;
  if (batch.joinKeyValues.length !== rowCount) {
    throw new TesseraError(
      'INTERNAL',
      `offline insert into ${view.name}@${view.version}: ${batch.joinKeyValues.length} key rows for ${rowCount} event timestamps`,
    );
  }
  if (batch.featureValues.length !== view.features.length) {
    throw new TesseraError(
      'INTERNAL',
      `offline insert into ${view.name}@${view.version}: ${batch.featureValues.length} feature columns for ${view.features.length} features`,
    );
  }
  const createdTsText = formatDateTime64Micros(createdTsMicros);
  const tsvColumns: TsvColumn[] = table.columns.map((column): TsvColumn => {
    switch (column.role) {
      case 'join_key': {
        const keyIndex = view.joinKeys.findIndex((key) => key.name === column.name);
        const keyType = view.joinKeys[keyIndex]?.type ?? 'string';
        return {
          kind: 'value',
          name: column.name,
          type: keyType,
          values: keyColumn(batch, keyIndex, column.name),
        };
      }
      case 'event_ts':
        return { kind: 'value', name: column.name, type: 'timestamp', values: batch.eventTsMillis };
      case 'created_ts':
        return batch.createdTsMicros === undefined
          ? { kind: 'constant', name: column.name, text: createdTsText }
          : { kind: 'micros', name: column.name, values: batch.createdTsMicros };
      case 'fp':
        return { kind: 'value', name: column.name, type: 'bytes', values: fingerprintColumn(view, batch, rowCount) };
      case 'online_gen':
        // The online fold's answer per row; 0 = not online (excluded, history, or an old job).
        return batch.onlineGenerations === undefined
          ? { kind: 'constant', name: column.name, text: '0' }
          : { kind: 'value', name: column.name, type: 'int64', values: onlineGenColumn(batch, rowCount) };
      case 'reason':
        return { kind: 'value', name: column.name, type: 'string', values: reasonColumn(view, batch, rowCount) };
      case 'feature':
      case 'is_null': {
        const index = column.featureIndex ?? -1;
        const feature = view.features[index];
        const values = batch.featureValues[index];
        if (feature === undefined || values === undefined) {
          throw new TesseraError(
            'INTERNAL',
            `offline insert into ${view.name}@${view.version}: no values for ${column.name}`,
          );
        }
        return column.role === 'feature'
          ? { kind: 'value', name: column.name, type: feature.type, values }
          : { kind: 'is_null', name: column.name, values };
      }
    }
  });
  return {
    payload: encodeTabSeparated(tsvColumns, rowCount),
    columns: tsvColumns.map((column) => column.name),
    rowCount,
  };
}

function fingerprintColumn(view: ViewShape, batch: OfflineBatch, rowCount: number): Uint8Array[] {
  const fps = batch.fingerprints;
  if (fps === undefined || fps.length !== rowCount * FINGERPRINT_BYTES) {
    throw new TesseraError(
      'INTERNAL',
      `offline insert into ${view.name}@${view.version}: ${fps === undefined ? 'no' : fps.length / FINGERPRINT_BYTES} event fingerprints for ${rowCount} rows`,
    );
  }
  return Array.from({ length: rowCount }, (_, row) =>
    fps.subarray(row * FINGERPRINT_BYTES, (row + 1) * FINGERPRINT_BYTES),
  );
}

function onlineGenColumn(batch: OfflineBatch, rowCount: number): bigint[] {
  return Array.from({ length: rowCount }, (_, row) => BigInt(batch.onlineGenerations?.[row] ?? 0));
}

function reasonColumn(view: ViewShape, batch: OfflineBatch, rowCount: number): string[] {
  return Array.from({ length: rowCount }, (_, row) => {
    const code = batch.exclusions?.[row];
    if (code === EXCLUSION_LATE) return 'late';
    if (code === EXCLUSION_FUTURE) return 'future';
    throw new TesseraError(
      'INTERNAL',
      `offline insert into ${view.name}@${view.version}: row ${row} of the excluded events has no exclusion reason`,
    );
  });
}

/** The rows `rows` of `batch` (fingerprints and exclusions included). */
function selectRows(batch: OfflineBatch, rows: readonly number[]): OfflineBatch {
  const fps = batch.fingerprints;
  const exclusions = batch.exclusions;
  const createdTs = batch.createdTsMicros;
  const generations = batch.onlineGenerations;
  const pick = <T>(values: readonly T[]): T[] => rows.map((row) => values[row] as T);
  const fingerprints = new Uint8Array(rows.length * FINGERPRINT_BYTES);
  if (fps !== undefined) {
    rows.forEach((row, i) =>
      fingerprints.set(fps.subarray(row * FINGERPRINT_BYTES, (row + 1) * FINGERPRINT_BYTES), i * FINGERPRINT_BYTES),
    );
  }
  return {
    joinKeyValues: pick(batch.joinKeyValues),
    eventTsMillis: Float64Array.from(rows, (row) => batch.eventTsMillis[row] as number),
    featureValues: batch.featureValues.map((values) => pick<FeatureValue>(values)),
    ...(createdTs === undefined
      ? {}
      : { createdTsMicros: BigInt64Array.from(rows, (row) => createdTs[row] as bigint) }),
    ...(fps === undefined ? {} : { fingerprints }),
    ...(exclusions === undefined ? {} : { exclusions: Uint8Array.from(rows, (row) => exclusions[row] as number) }),
    ...(generations === undefined
      ? {}
      : { onlineGenerations: Uint32Array.from(rows, (row) => generations[row] as number) }),
  };
}

/**
 * An event view's batch split by where its rows land (design §1.3, §4.1): eligible rows to the
 * main table, rows a live write excluded to `__excluded`; fingerprints computed here when the
 * batch does not carry them (a write-behind job queued before they were carried).
 */
export function splitEventBatch(
  view: InsertViewShape,
  batch: OfflineBatch,
): { readonly eligible: OfflineBatch; readonly excluded: OfflineBatch } {
  let withFps = batch;
  if (batch.fingerprints === undefined) {
    if (view.id === undefined || view.entities === undefined) {
      throw new TesseraError(
        'INTERNAL',
        `offline insert into ${view.name}@${view.version}: event rows without fingerprints and no view id to compute them`,
      );
    }
    const { id, entities } = view;
    withFps = {
      ...batch,
      fingerprints: batchFingerprints({ id, version: view.version, entities, features: view.features }, batch),
    };
  }
  const exclusions = batch.exclusions;
  const rowCount = batch.eventTsMillis.length;
  if (exclusions !== undefined && exclusions.length !== rowCount) {
    throw new TesseraError(
      'INTERNAL',
      `offline insert into ${view.name}@${view.version}: ${exclusions.length} exclusion codes for ${rowCount} rows`,
    );
  }
  if (exclusions === undefined || exclusions.every((code) => code === EXCLUSION_NONE)) {
    return { eligible: withFps, excluded: selectRows(withFps, []) };
  }
  const eligible: number[] = [];
  const excluded: number[] = [];
  exclusions.forEach((code, row) => (code === EXCLUSION_NONE ? eligible : excluded).push(row));
  return { eligible: selectRows(withFps, eligible), excluded: selectRows(withFps, excluded) };
}

/** Column `keyIndex` of the row-major join keys, checked for missing values. */
function keyColumn(batch: OfflineBatch, keyIndex: number, name: string): (bigint | string)[] {
  return batch.joinKeyValues.map((keys, row) => {
    const value = keys[keyIndex];
    if (value === undefined) throw new TesseraError('INTERNAL', `offline insert: row ${row} has no join key ${name}`);
    return value;
  });
}

/**
 * Inserts one batch into `database`.`fv_<view>__v<version>` as one insert. With a `dedupToken`,
 * a repeated insert with the same token adds nothing (ClickHouse insert deduplication). An event
 * view's batch is split (see {@link splitEventBatch}): one insert per table that gets rows, each
 * with the same token (ClickHouse deduplicates per table).
 */
export async function insertOfflineBatch(
  executor: ClickHouseExecutor,
  database: string,
  view: InsertViewShape,
  batch: OfflineBatch,
  options: InsertBatchOptions = {},
): Promise<void> {
  if (batch.eventTsMillis.length === 0) return;
  if (options.deadlineMillis !== undefined && Date.now() >= options.deadlineMillis) {
    throw new TesseraError(
      'DEADLINE_EXCEEDED',
      `offline insert into ${view.name}@${view.version}: the deadline passed before it started`,
    );
  }
  const createdTsMicros = options.createdTsMicros ?? nowMicros();
  const tables = offlineTablesOf(view);
  if (!isEventView(view)) {
    await insertInto(executor, database, view, batch, tables[0] as OfflineTable, createdTsMicros, options);
    return;
  }
  const { eligible, excluded } = splitEventBatch(view, batch);
  await insertInto(executor, database, view, eligible, tables[0] as OfflineTable, createdTsMicros, options);
  await insertInto(executor, database, view, excluded, tables[1] as OfflineTable, createdTsMicros, options);
}

async function insertInto(
  executor: ClickHouseExecutor,
  database: string,
  view: ViewShape,
  batch: OfflineBatch,
  table: OfflineTable,
  createdTsMicros: bigint,
  options: InsertBatchOptions,
): Promise<void> {
  if (batch.eventTsMillis.length === 0) return;
  const encoded = encodeOfflineBatch(view, batch, createdTsMicros, table);
  const settings: Record<string, string | number | boolean> = { ...options.settings };
  if (options.dedupToken !== undefined) {
    settings.insert_deduplicate = 1;
    settings.insert_deduplication_token = options.dedupToken;
  }
  const signal =
    options.deadlineMillis === undefined
      ? undefined
      : AbortSignal.timeout(Math.max(0, options.deadlineMillis - Date.now()));
  // Checked identifiers, unquoted: each executor quotes them as its client requires.
  qualifiedName(database, table.name);
  await executor.insertRaw(`${database}.${table.name}`, encoded.payload, {
    format: 'TabSeparated',
    columns: encoded.columns,
    settings,
    ...(signal === undefined ? {} : { signal }),
  });
}
