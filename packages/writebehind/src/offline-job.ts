/**
 * What write-behind queues: the validated offline rows of one view version, gathered from one or
 * more Writes (group commit), each Write stamped with the moment it was accepted. Engine-neutral:
 * the consumer encodes the rows for the offline store with the view's shape as the registry has it
 * when the job runs, so a feature added compatibly in between is simply NULL in older rows.
 *
 * Wire form: MessagePack (msgpackr, which keeps bigint, typed arrays and bytes exact) in base64, so
 * a job is plain JSON for BullMQ and a small binary value in the LMDB outbox.
 */
import { Packr } from 'msgpackr';
import {
  FINGERPRINT_BYTES,
  TesseraError,
  batchFingerprints,
  isEventView,
  type FeatureValue,
  type JoinKeyValue,
  type OfflineBatch,
  type RegisteredView,
} from '@tessera/core';

/** One accepted Write's offline rows. */
export interface AcceptedBatch {
  readonly batch: OfflineBatch;
  /** When the Write was accepted, µs since the epoch (the rows' `created_ts`). */
  readonly createdTsMicros: bigint;
}

/** A queued job: the rows of one view version. */
export interface OfflineJobData {
  /** Format of `rows`; bumped when it changes, so an old job is recognised rather than misread. */
  readonly format: 1;
  readonly view: string;
  readonly version: number;
  readonly rowCount: number;
  /** When the job was made, ms since the epoch (offline lag is measured from here). */
  readonly enqueuedAtMillis: number;
  /** Base64 MessagePack of {@link WireRows}. */
  readonly rows: string;
}

interface WireRows {
  readonly keys: (readonly JoinKeyValue[])[];
  readonly eventTs: Float64Array;
  readonly createdTs: BigInt64Array;
  readonly features: WireColumn[];
  /**
   * Event views (design §1.2, §1.3): per row the fingerprint (16 bytes each) and the exclusion
   * code. Absent in jobs of plain views and in jobs queued before they were carried (those insert
   * as eligible, fingerprints computed at insert).
   */
  readonly fp?: Uint8Array;
  readonly excluded?: Uint8Array;
  /**
   * Event views with aggregations (design §1.6): per row the online fold's generation
   * (`online_gen`). Absent in older jobs and when no part carried it (inserted as 0).
   */
  readonly gen?: Uint32Array;
}

/**
 * A feature column: doubles as a Float64Array and a null mask (MessagePack would write an integral
 * double such as -0 or 2^60 as an integer and read it back as 0 or a bigint), the rest as values.
 */
type WireColumn = readonly FeatureValue[] | { readonly doubles: Float64Array; readonly nulls: Uint8Array };

function wireColumn(values: readonly FeatureValue[], type: string): WireColumn {
  if (type !== 'double') return values;
  const doubles = new Float64Array(values.length);
  const nulls = new Uint8Array(values.length);
  values.forEach((value, i) => {
    if (typeof value === 'number') doubles[i] = value;
    else nulls[i] = 1;
  });
  return { doubles, nulls };
}

function valuesOf(column: WireColumn): readonly FeatureValue[] | undefined {
  if (Array.isArray(column)) return column as readonly FeatureValue[];
  const { doubles, nulls } = column as { doubles?: unknown; nulls?: unknown };
  if (!(doubles instanceof Float64Array) || !(nulls instanceof Uint8Array) || nulls.length !== doubles.length) {
    return undefined;
  }
  return Array.from(doubles, (value, i) => (nulls[i] === 1 ? null : value));
}

const packr = new Packr({ useRecords: false, moreTypes: true, int64AsType: 'bigint', mapsAsObjects: true });

/** The job of `parts` (Writes of `view`, oldest first), as one batch of rows. */
export function encodeOfflineJob(
  view: RegisteredView,
  parts: readonly AcceptedBatch[],
  nowMillis = Date.now(),
): OfflineJobData {
  let rowCount = 0;
  for (const part of parts) rowCount += part.batch.eventTsMillis.length;
  const keys: (readonly JoinKeyValue[])[] = new Array<readonly JoinKeyValue[]>(rowCount);
  const eventTs = new Float64Array(rowCount);
  const createdTs = new BigInt64Array(rowCount);
  // Writes validated before a compatible change have fewer features: their new ones are NULL.
  const featureCount = Math.max(view.features.length, ...parts.map((p) => p.batch.featureValues.length));
  const features: FeatureValue[][] = Array.from({ length: featureCount }, () => new Array<FeatureValue>(rowCount));
  let row = 0;
  for (const { batch, createdTsMicros } of parts) {
    const n = batch.eventTsMillis.length;
    eventTs.set(batch.eventTsMillis, row);
    for (let i = 0; i < n; i++) {
      keys[row + i] = batch.joinKeyValues[i] as readonly JoinKeyValue[];
      createdTs[row + i] = batch.createdTsMicros?.[i] ?? createdTsMicros;
    }
    for (let f = 0; f < featureCount; f++) {
      const target = features[f] as FeatureValue[];
      const source = batch.featureValues[f];
      for (let i = 0; i < n; i++) target[row + i] = source === undefined ? null : (source[i] as FeatureValue);
    }
    row += n;
  }
  const wire: WireRows = {
    keys,
    eventTs,
    createdTs,
    features: features.map((values, f) => wireColumn(values, view.features[f]?.type ?? '')),
    ...(isEventView(view) ? eventColumns(view, parts, rowCount) : {}),
  };
  return {
    format: 1,
    view: view.name,
    version: view.version,
    rowCount,
    enqueuedAtMillis: nowMillis,
    rows: packr.pack(wire).toString('base64'),
  };
}

/** The fingerprints and exclusion codes of an event view's parts (computed for a part without them). */
function eventColumns(
  view: RegisteredView,
  parts: readonly AcceptedBatch[],
  rowCount: number,
): { fp: Uint8Array; excluded: Uint8Array; gen?: Uint32Array } {
  const fp = new Uint8Array(rowCount * FINGERPRINT_BYTES);
  const excluded = new Uint8Array(rowCount);
  const gen = parts.some((p) => p.batch.onlineGenerations !== undefined) ? new Uint32Array(rowCount) : undefined;
  let row = 0;
  for (const { batch } of parts) {
    const n = batch.eventTsMillis.length;
    const fps =
      batch.fingerprints?.length === n * FINGERPRINT_BYTES
        ? batch.fingerprints
        : batchFingerprints({ ...view, features: view.features.slice(0, batch.featureValues.length) }, batch);
    fp.set(fps, row * FINGERPRINT_BYTES);
    if (batch.exclusions !== undefined) excluded.set(batch.exclusions.subarray(0, n), row);
    if (gen !== undefined && batch.onlineGenerations !== undefined)
      gen.set(batch.onlineGenerations.subarray(0, n), row);
    row += n;
  }
  return gen === undefined ? { fp, excluded } : { fp, excluded, gen };
}

/**
 * The rows of a job as an offline batch of `view` (the job's view version as the registry has it
 * now). Throws INVALID_ARGUMENT when the job cannot be read as rows of that view: such a job
 * can never succeed and belongs in the dead letters.
 */
export function decodeOfflineJob(data: OfflineJobData, view: RegisteredView): OfflineBatch {
  const label = `${data.view}@${data.version}`;
  if (data.format !== 1) {
    throw new TesseraError('INVALID_ARGUMENT', `write-behind job for ${label}: unknown format ${String(data.format)}`);
  }
  let wire: WireRows;
  try {
    wire = packr.unpack(Buffer.from(data.rows, 'base64')) as WireRows;
  } catch (error) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `write-behind job for ${label}: unreadable rows (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
  const rowCount = wire.eventTs?.length;
  if (
    !(wire.eventTs instanceof Float64Array) ||
    !(wire.createdTs instanceof BigInt64Array) ||
    !Array.isArray(wire.keys) ||
    !Array.isArray(wire.features) ||
    wire.keys.length !== rowCount ||
    wire.createdTs.length !== rowCount ||
    rowCount !== data.rowCount
  ) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `write-behind job for ${label}: its rows are not a batch of ${data.rowCount} rows`,
    );
  }
  if (wire.features.length > view.features.length) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `write-behind job for ${label}: ${wire.features.length} features, the view has ${view.features.length}`,
    );
  }
  const featureValues: (readonly FeatureValue[])[] = view.features.map((_, f) => {
    const wired = wire.features[f];
    if (wired === undefined) return new Array<FeatureValue>(rowCount).fill(null);
    const column = valuesOf(wired);
    if (column === undefined || column.length !== rowCount) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `write-behind job for ${label}: feature #${f} is not a column of ${rowCount} values`,
      );
    }
    return column;
  });
  const { fp, excluded, gen } = wire;
  if (
    (fp !== undefined && (!(fp instanceof Uint8Array) || fp.length !== rowCount * FINGERPRINT_BYTES)) ||
    (excluded !== undefined && (!(excluded instanceof Uint8Array) || excluded.length !== rowCount)) ||
    (gen !== undefined && (!(gen instanceof Uint32Array) || gen.length !== rowCount))
  ) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `write-behind job for ${label}: its event fingerprints, exclusions or online generations are not ${rowCount} rows`,
    );
  }
  return {
    joinKeyValues: wire.keys,
    eventTsMillis: wire.eventTs,
    featureValues,
    createdTsMicros: wire.createdTs,
    ...(fp === undefined ? {} : { fingerprints: fp }),
    ...(excluded === undefined ? {} : { exclusions: excluded }),
    ...(gen === undefined ? {} : { onlineGenerations: gen }),
  };
}
