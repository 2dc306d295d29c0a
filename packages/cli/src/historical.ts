import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import type { RecordBatch } from 'apache-arrow';
import { TesseraError, formatTimestamp } from '@tessera/core';
import { fromProtoValueType, toColumn } from '@tessera/client';
import type { TesseraClient } from '@tessera/client';
import { HistoricalFormat } from '@tessera/proto';
import type { Column, EntityRows } from '@tessera/proto';
import { readEntityFile } from './entity-file.js';
import { toParquet } from './parquet.js';
import { Progress } from './progress.js';

export interface HistoricalOptions {
  readonly entities: string;
  readonly features: readonly string[];
  readonly featureService?: string;
  readonly out: string;
  readonly timestampColumn: string;
  readonly chunkRows: number;
}

/**
 * Builds a training set: reads entity rows (CSV or Parquet), asks the server for point-in-time
 * correct features as Arrow chunks, and writes them (Parquet, CSV or Arrow) with the input
 * columns in their order followed by one `<view>__<feature>` column per feature.
 */
export async function buildTrainingSet(client: TesseraClient, options: HistoricalOptions): Promise<string> {
  const format = outputFormat(options.out);
  const listing = await client.list();
  const joinKeyTypes = new Map(
    listing.entities.flatMap((e) =>
      e.joinKeys.map((k) => [
        k.name,
        fromProtoValueType(k.type) === 'int64' ? ('int64' as const) : ('string' as const),
      ]),
    ),
  );
  const input = await readEntityFile(options.entities, { timestampColumn: options.timestampColumn, joinKeyTypes });
  const rows: EntityRows = {
    keys: Object.fromEntries(input.keys.map((c): [string, Column] => [c.name, toColumn(c.type, c.values)])),
    eventTimestamps: input.eventTsMillis.map((ms) => BigInt(ms)),
    passthrough: Object.fromEntries(
      input.passthrough.map((c): [string, Column] => [c.name, toColumn(c.type, c.values)]),
    ),
  };
  const progress = new Progress(input.eventTsMillis.length);
  const batches: RecordBatch[] = [];
  let csv: ReturnType<typeof createWriteStream> | undefined;
  let order: string[] | undefined;
  for await (const chunk of client.getHistorical({
    entities: { $case: 'rows', value: rows },
    features: [...options.features],
    featureService: options.featureService ?? '',
    format: HistoricalFormat.HISTORICAL_FORMAT_ARROW,
    chunkRows: options.chunkRows,
  })) {
    const table = tableFromIPC(chunk.arrowIpc);
    // Input columns in the file's order, then the features in the order the server sent them.
    order ??= [
      ...input.columnOrder,
      ...table.schema.fields.map((f) => f.name).filter((n) => !input.columnOrder.includes(n)),
    ];
    const selected = table.select(order);
    for (const batch of selected.batches) {
      if (format === 'csv') {
        csv ??= createWriteStream(options.out);
        if (csv.bytesWritten === 0 && csv.writableLength === 0) csv.write(`${order.map(csvCell).join(',')}\n`);
        if (!csv.write(csvRows(batch))) await once(csv, 'drain');
      } else {
        batches.push(batch);
      }
    }
    progress.add(chunk.rowCount);
  }
  progress.done();
  if (format === 'csv') {
    csv ??= createWriteStream(options.out);
    csv.end();
    await once(csv, 'finish');
  } else {
    // Parquet and Arrow files are written whole at the end (their footers index every batch).
    if (batches.length === 0) throw new TesseraError('INTERNAL', 'GetHistorical returned no rows to write');
    const table = new Table(batches);
    await writeFile(options.out, format === 'arrow' ? tableToIPC(table, 'file') : await toParquet(table));
  }
  return `wrote ${input.eventTsMillis.length} rows × ${order?.length ?? 0} columns to ${options.out}`;
}

function outputFormat(path: string): 'parquet' | 'csv' | 'arrow' {
  if (path.endsWith('.parquet')) return 'parquet';
  if (path.endsWith('.csv')) return 'csv';
  if (path.endsWith('.arrow') || path.endsWith('.feather')) return 'arrow';
  throw new TesseraError('INVALID_ARGUMENT', `--out ${path}: use a .parquet, .csv or .arrow file`);
}

function csvRows(batch: RecordBatch): string {
  const columns = batch.schema.fields.map((field, c) => ({ field, vector: batch.getChildAt(c)! }));
  let out = '';
  for (let i = 0; i < batch.numRows; i++) {
    out += columns.map(({ field, vector }) => csvValue(vector.get(i) as unknown, String(field.type))).join(',') + '\n';
  }
  return out;
}

/** One CSV cell: empty for null, ISO text for timestamps, JSON for lists. */
function csvValue(value: unknown, arrowType: string): string {
  if (value === null || value === undefined) return '';
  if (arrowType.startsWith('Timestamp') && (typeof value === 'number' || typeof value === 'bigint'))
    return formatTimestamp(Number(value));
  if (value instanceof Date) return formatTimestamp(value.getTime());
  if (typeof value === 'object' && value !== null && Symbol.iterator in value) {
    return csvCell(
      JSON.stringify(Array.from(value as Iterable<unknown>, (x) => (typeof x === 'bigint' ? x.toString() : x))),
    );
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value === 'string') return csvCell(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return `${value}`;
  return csvCell(JSON.stringify(value) ?? '');
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
