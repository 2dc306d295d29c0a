import { TesseraError, isTesseraError } from '@tessera/core/basics';
import type { TesseraClient } from '@tessera/client';
import { fromProtoView } from '@tessera/wire';
import { Durability, WriteTarget } from '@tessera/proto';
import { Progress } from './progress.js';
import { readRowBatches } from './read-rows.js';

export interface WriteFileOptions {
  readonly batchRows: number;
  readonly timestampColumn: string;
  readonly durability: 'write-behind' | 'sync' | 'replicated';
  readonly target?: 'both' | 'online' | 'offline';
}

/**
 * Writes a CSV / JSONL / Parquet file to a view, one Write per batch, each acknowledged before the
 * next is sent: when anything fails (a bad cell, the server gone) the error says how many rows were
 * acknowledged and from which record the file was not written, so the rest can be sent again.
 * Resolves with the one-line summary.
 */
export async function writeFile(
  client: TesseraClient,
  viewRef: string,
  file: string,
  options: WriteFileOptions,
): Promise<string> {
  const got = await client.get('feature_view', viewRef);
  if (got.object?.$case !== 'featureView') throw new TesseraError('NOT_FOUND', `feature view ${viewRef} not found`);
  const view = fromProtoView(got.object.value);
  const label = `${view.name}@${view.version}`;
  const progress = new Progress(undefined, `rows sent to ${label}`);
  let rows = 0;
  let applied = 0;
  let stale = 0;
  let late = 0;
  let future = 0;
  /** First record of the file not acknowledged yet. */
  let nextRecord: number | undefined;
  try {
    const batches = readRowBatches(file, view, {
      batchRows: options.batchRows,
      timestampColumn: options.timestampColumn,
    });
    for await (const batch of batches) {
      nextRecord = batch.firstRecord;
      const result = await client.write({
        featureView: label,
        columns: batch.columns,
        eventTimestamps: batch.eventTimestamps,
        target: WRITE_TARGETS[options.target ?? 'both'],
        durability: DURABILITIES[options.durability],
      });
      rows += Number(result.rows);
      applied += Number(result.rowsAppliedOnline);
      stale += Number(result.rowsStaleOnline);
      late += Number(result.rowsExcludedLate);
      future += Number(result.rowsExcludedFuture);
      nextRecord = undefined;
      progress.add(batch.rows);
    }
  } catch (error) {
    progress.done();
    throw partialWriteError(error, { file, label, rows, nextRecord });
  }
  progress.done();
  if (options.target === 'offline') return `wrote ${rows} rows to ${label}, offline only`;
  // Event views only: rows kept (plain features, offline) but counted by no aggregation.
  const excluded =
    late + future === 0
      ? ''
      : `; ${late} late and ${future} too far in the future: kept, but no aggregation counts them`;
  return `wrote ${rows} rows to ${label}: ${applied} applied online, ${stale} older than the stored values (kept the newer)${excluded}`;
}

/** The error of a write that stopped part way, saying what was acknowledged before it stopped. */
function partialWriteError(
  error: unknown,
  at: { file: string; label: string; rows: number; nextRecord: number | undefined },
): TesseraError {
  const code = isTesseraError(error) ? error.code : 'UNAVAILABLE';
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
  const acknowledged =
    at.rows === 0
      ? 'nothing was acknowledged'
      : `${at.rows} rows were acknowledged before it; the rest` +
        (at.nextRecord === undefined ? '' : `, from record ${at.nextRecord} of ${at.file},`) +
        ' was not';
  // The server's rejections already name the view ("Write to v@1 rejected: ...").
  const what = message.startsWith(`Write to ${at.label}`) ? message : `write to ${at.label} stopped: ${message}`;
  return new TesseraError(code, `${what}; ${acknowledged}`, {
    cause: error,
    details: isTesseraError(error) ? error.details : [],
  });
}

const DURABILITIES = {
  'write-behind': Durability.DURABILITY_WRITE_BEHIND,
  sync: Durability.DURABILITY_SYNC,
  replicated: Durability.DURABILITY_REPLICATED,
} as const;

const WRITE_TARGETS = {
  both: WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE,
  online: WriteTarget.WRITE_TARGET_ONLINE,
  offline: WriteTarget.WRITE_TARGET_OFFLINE,
} as const;
