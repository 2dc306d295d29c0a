import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import type { RecordBatch } from 'apache-arrow';
import { TIMESTAMP_FORMATS_HINT, TesseraError, formatTimestamp, parseTimestamp } from '@tessera/core/basics';
import { fromProtoValueType, toColumn } from '@tessera/wire';
import type { TesseraClient } from '@tessera/client';
import type { ValueType } from '@tessera/core';
import { HistoricalFormat } from '@tessera/proto';
import type { Column, EntityRows, GetHistoricalRequest } from '@tessera/proto';
import { readEntityFile } from './entity-file.js';
import { toParquet } from './parquet.js';
import { Progress } from './progress.js';

/** The built-in entity set: every entity of a view with events in [start, end), at each event or hop. */
export interface ViewEntitiesOption {
  readonly view: string;
  readonly startMillis: number;
  readonly endMillis: number;
  /** 0: each event time. */
  readonly hopMillis: number;
}

/** A registered entity source and its parameter values as text (parsed by the server). */
export interface EntitySourceOption {
  readonly name: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface HistoricalOptions {
  /** Entity rows file; or give {@link viewEntities} or {@link entitySource}. */
  readonly entities?: string;
  readonly viewEntities?: ViewEntitiesOption;
  readonly entitySource?: EntitySourceOption;
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
  // Request fields of on-demand views are typed by the registry too (CSV labels stay strings).
  const requestFieldTypes = new Map<string, ValueType>();
  for (const view of listing.featureViews) {
    for (const field of view.requestFields) {
      const type = fromProtoValueType(field.type);
      if (type !== undefined) requestFieldTypes.set(field.name, type);
    }
  }
  const spine = options.viewEntities;
  const source = options.entitySource;
  const fromFile = spine === undefined && source === undefined;
  const input = fromFile
    ? await readEntityFile(requiredEntities(options), {
        timestampColumn: options.timestampColumn,
        joinKeyTypes,
        requestFieldTypes,
      })
    : { keys: [], passthrough: [], eventTsMillis: [], columnOrder: [] };
  let entities: GetHistoricalRequest['entities'];
  if (source !== undefined) {
    entities = { $case: 'entitySource', value: { name: source.name, params: { ...source.params } } };
  } else if (spine !== undefined) {
    entities = {
      $case: 'viewEntities',
      value: {
        featureView: spine.view,
        startTime: BigInt(spine.startMillis),
        endTime: BigInt(spine.endMillis),
        hopMillis: BigInt(spine.hopMillis),
      },
    };
  } else {
    entities = { $case: 'rows', value: entityRows(input) };
  }
  // The size of a view entity set or an entity source is known only as it arrives.
  const progress = new Progress(fromFile ? input.eventTsMillis.length : 0);
  let rowCount = 0;
  const batches: RecordBatch[] = [];
  let csv: ReturnType<typeof createWriteStream> | undefined;
  let order: string[] | undefined;
  for await (const chunk of client.getHistorical({
    entities,
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
    rowCount += chunk.rowCount;
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
  return `wrote ${rowCount} rows × ${order?.length ?? 0} columns to ${options.out}`;
}

function requiredEntities(options: HistoricalOptions): string {
  if (options.entities === undefined) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      'give --entities <file> or --view-entities <view> with --start and --end, or --entity-source <name> with --param key=value',
    );
  }
  return options.entities;
}

function entityRows(input: Awaited<ReturnType<typeof readEntityFile>>): EntityRows {
  return {
    keys: Object.fromEntries(input.keys.map((c): [string, Column] => [c.name, toColumn(c.type, c.values)])),
    eventTimestamps: input.eventTsMillis.map((ms) => BigInt(ms)),
    passthrough: Object.fromEntries(
      input.passthrough.map((c): [string, Column] => [c.name, toColumn(c.type, c.values)]),
    ),
  };
}

const HOP_UNITS_MILLIS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Reads the view entity set flags: `--start`/`--end` as timestamps (RFC 3339, a date or epoch
 * ms), `--hop` as a duration (`90s`, `15m`, `1h`, `1d`, or ms); no hop means each event time.
 */
export function viewEntitiesOption(
  view: string,
  start: string | undefined,
  end: string | undefined,
  hop: string | undefined,
): ViewEntitiesOption {
  const time = (flag: string, text: string | undefined): number => {
    const ms = text === undefined ? undefined : parseTimestamp(/^-?\d+$/.test(text) ? Number(text) : text);
    if (ms === undefined) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `--${flag} ${text === undefined ? 'is required with --view-entities' : `${JSON.stringify(text.slice(0, 200))} is not a time`}: use ${TIMESTAMP_FORMATS_HINT}`,
      );
    }
    return ms;
  };
  let hopMillis = 0;
  if (hop !== undefined) {
    const match = /^(\d+)(ms|s|m|h|d)?$/.exec(hop);
    const unit = HOP_UNITS_MILLIS[match?.[2] ?? 'ms'];
    if (match === null || unit === undefined) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `--hop ${JSON.stringify(hop.slice(0, 200))}: use a duration such as 90s, 15m, 1h, 1d or milliseconds`,
      );
    }
    hopMillis = Number(match[1]) * unit;
  }
  return { view, startMillis: time('start', start), endMillis: time('end', end), hopMillis };
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
