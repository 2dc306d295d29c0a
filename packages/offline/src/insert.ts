/**
 * Offline writes: one validated batch of one view version becomes one ClickHouse insert of a
 * TabSeparated payload (values never enter SQL text), with the batch's deduplication token.
 */
import { TesseraError, nowMicros, type OfflineBatch, type OfflineInsertOptions } from '@tessera/core';
import type { ClickHouseExecutor } from './executor.js';
import { columnsOf, qualifiedName, tableName, type ViewShape } from './ddl.js';
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

/** Encodes a batch of `view` as the TabSeparated payload of its table. */
export function encodeOfflineBatch(view: ViewShape, batch: OfflineBatch, createdTsMicros: bigint): EncodedBatch {
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
  const tsvColumns: TsvColumn[] = columnsOf(view).map((column): TsvColumn => {
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
 * a repeated insert with the same token adds nothing (ClickHouse insert deduplication).
 */
export async function insertOfflineBatch(
  executor: ClickHouseExecutor,
  database: string,
  view: ViewShape,
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
  const encoded = encodeOfflineBatch(view, batch, options.createdTsMicros ?? nowMicros());
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
  qualifiedName(database, tableName(view));
  await executor.insertRaw(`${database}.${tableName(view)}`, encoded.payload, {
    format: 'TabSeparated',
    columns: encoded.columns,
    settings,
    ...(signal === undefined ? {} : { signal }),
  });
}
