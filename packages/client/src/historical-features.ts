import type { RecordBatch, Table } from 'apache-arrow';
import type { EntityRows, GetHistoricalResponse } from '@tessera/proto';
import { entityColumns } from './online-features.js';
import type { HistoricalEntityRows } from './options.js';
import { toEpochMillis } from './write-batches.js';

/** The EntityRows message of a training-set request. */
export function toEntityRows(entityRows: HistoricalEntityRows): EntityRows {
  return {
    keys: entityColumns(entityRows.keys),
    eventTimestamps: entityRows.eventTimestamps.map((t, i) => BigInt(toEpochMillis(t, `entity row ${i}, event time`))),
    passthrough: { ...entityRows.passthrough },
  };
}

/** One Arrow table from the chunks of a GetHistorical stream (each chunk one Arrow IPC stream). */
export async function tableFromChunks(chunks: AsyncIterable<GetHistoricalResponse>): Promise<Table> {
  // Loaded here, not at the top: Arrow is ~150 modules, and `tessera get` and the online calls never need it.
  const arrow = await import('apache-arrow');
  const batches: RecordBatch[] = [];
  let schema: Table['schema'] | undefined;
  for await (const chunk of chunks) {
    const table = arrow.tableFromIPC(chunk.arrowIpc);
    schema ??= table.schema;
    batches.push(...table.batches);
  }
  return batches.length > 0 ? new arrow.Table(batches) : new arrow.Table(schema ?? new arrow.Table().schema);
}
