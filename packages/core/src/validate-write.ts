import { RowEncoder } from './codec/row-encoder.js';
import { TesseraError } from './errors.js';
import { compileFeatureChecks } from './internal/feature-checks.js';
import type { FeatureChecks } from './internal/feature-checks.js';
import { ProblemList } from './internal/problem-list.js';
import { groupValueProblem } from './aggregation/group-field.js';
import { entityKey, entityKeyProblem, keyValueProblem, utf8BytesOver } from './keys.js';
import { showName } from './quote.js';
import type { FeatureValue, JoinKeyValue, RegisteredView } from './model.js';
import { TIMESTAMP_FORMATS_HINT, formatTimestamp, parseTimestamp } from './timestamps.js';
import { WRONG_TYPE, coerceFeatureValue, coerceJoinKey, describeValue, formatValue } from './values.js';

/** A columnar write batch for one view version, as decoded from the wire. */
export interface WriteBatchInput {
  /** Join key and feature columns by name; every column holds one value per row (null = no value). */
  readonly columns: ReadonlyMap<string, readonly unknown[]> | Readonly<Record<string, readonly unknown[]>>;
  /** Event time of each row: epoch-ms number or bigint, or a string `parseTimestamp` accepts. */
  readonly eventTimestamps: readonly unknown[];
}

export interface ValidateWriteOptions {
  /** Problems listed in the error's details (all are counted); default 20. */
  readonly maxProblems?: number;
  /**
   * Event times later than `nowMillis + maxEventTimeSkewMillis` are refused: last-writer-wins would
   * let one far-future event shadow every real one. Default: no bound (a server always sets one).
   */
  readonly maxEventTimeSkewMillis?: number;
  /** The clock the skew is measured from, epoch ms. Default `Date.now()`. */
  readonly nowMillis?: number;
  /** Earliest event time accepted, epoch ms. Default: no bound (a server sets {@link MIN_EVENT_TS_MILLIS}). */
  readonly minEventTsMillis?: number;
  /** Most UTF-8 bytes of one string value, one string list element, or one bytes value. Default {@link MAX_VALUE_BYTES}. */
  readonly maxValueBytes?: number;
  /** Most elements of one list value. Default {@link MAX_LIST_LENGTH}. */
  readonly maxListLength?: number;
}

/** Earliest event time a server accepts: 1900-01-01T00:00:00Z, the earliest the offline store holds. */
export const MIN_EVENT_TS_MILLIS = Date.UTC(1900, 0, 1);
/** Default of {@link ValidateWriteOptions.maxValueBytes}: 1 MiB per string or bytes value. */
export const MAX_VALUE_BYTES = 1_048_576;
/** Default of {@link ValidateWriteOptions.maxListLength}: elements of one list value (embedding dimension). */
export const MAX_LIST_LENGTH = 65_536;

/** A batch that passed validation, ready for the online and offline stores. */
export interface ValidatedBatch {
  readonly rowCount: number;
  /** Per row, the join key values in `view.joinKeys` order (int64 keys as bigint). */
  readonly joinKeyValues: readonly (readonly JoinKeyValue[])[];
  /**
   * Per row, the online entity key (`entityKey(view.entities, joinKeyValues[row])`). A key may
   * repeat with different event times (history backfills); the same key and event time may not.
   */
  readonly entityKeys: readonly string[];
  /**
   * The rows the online store needs: per entity key, the one with the latest event time (the
   * later row on a tie, as last-writer-wins would keep), in row order. Every row when no key repeats.
   */
  readonly latestRowPerKey: readonly number[];
  /** Per row, the event timestamp in epoch ms (an integer). */
  readonly eventTsMillis: Float64Array;
  /**
   * Per feature in `view.features` order, one in-memory value per row (the offline copy); a
   * feature whose column was absent is all null.
   */
  readonly featureValues: readonly (readonly FeatureValue[])[];
  /** Per row, the packed online row (view.features order). Node Buffers: send them as they are. */
  readonly rows: readonly Buffer[];
}

/** Default number of problems listed in an INVALID_ARGUMENT error. */
export const DEFAULT_MAX_PROBLEMS = 20;

interface CompiledView {
  readonly label: string;
  readonly joinKeyIndex: ReadonlyMap<string, number>;
  readonly featureIndex: ReadonlyMap<string, number>;
  readonly checks: readonly FeatureChecks[];
  readonly encoder: RowEncoder;
  readonly unknownColumnHint: string;
}

/**
 * A group feature's values are bounded (`MAX_GROUP_VALUE_BYTES`, design §1.8) on every Write,
 * history included, so every group offline can also be kept online.
 */
function withGroupBound(checks: FeatureChecks, view: RegisteredView, name: string): FeatureChecks {
  if (!(view.aggregations ?? []).some((a) => a.groupBy === name)) return checks;
  return { ...checks, check: (v) => checks.check(v) ?? groupValueProblem(v as JoinKeyValue) };
}

// Registry caches hand out the same view object per version, so this compiles each version once.
const compiledViews = new WeakMap<RegisteredView, CompiledView>();

function compileView(view: RegisteredView): CompiledView {
  let compiled = compiledViews.get(view);
  if (compiled === undefined) {
    const label = `${view.name}@${view.version}`;
    const featureNames = view.features.map((f) => f.name);
    const shown = featureNames.length > 20 ? [...featureNames.slice(0, 20), '…'] : featureNames;
    compiled = {
      label,
      joinKeyIndex: new Map(view.joinKeys.map((k, i) => [k.name, i])),
      featureIndex: new Map(featureNames.map((name, i) => [name, i])),
      checks: view.features.map((f) => withGroupBound(compileFeatureChecks(f), view, f.name)),
      encoder: new RowEncoder(view.features.map((f) => f.type)),
      unknownColumnHint:
        `unknown column: ${label} has join keys ${view.joinKeys.map((k) => k.name).join(', ')}` +
        ` and features ${shown.join(', ')}`,
    };
    compiledViews.set(view, compiled);
  }
  return compiled;
}

function isColumn(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

/**
 * Validates a whole write batch and, only if every row of it is valid, converts it: join key
 * values, entity keys, event timestamps, in-memory feature values and packed online rows.
 *
 * Checks (all collected before throwing): unknown columns, missing join key columns, columns
 * (and event timestamps) of differing lengths, value types (see `values.ts` for the JS types
 * accepted), null join keys, not_null (an absent feature column is one problem for the column),
 * the feature constraints (see `internal/feature-checks.ts`), missing or malformed event
 * timestamps, and entity keys repeated within the batch (naming both rows).
 *
 * Rows are numbered from 0, as array indexes on the wire. On any problem this throws
 * `TesseraError('INVALID_ARGUMENT')` whose message names the first problem —
 * `Write to customer_stats@2 rejected: row 17, column loyalty_score: 7.5 is above max 5 (and 3 more problems)` —
 * and whose details list the first `maxProblems` problems (path `row 17, column loyalty_score`).
 * Nothing is returned partially.
 */
export function validateWriteBatch(
  view: RegisteredView,
  input: WriteBatchInput,
  options: ValidateWriteOptions = {},
): ValidatedBatch {
  const compiled = compileView(view);
  const problems = new ProblemList(`write ${compiled.label}`, Math.max(1, options.maxProblems ?? DEFAULT_MAX_PROBLEMS));
  const keyCount = view.joinKeys.length;
  const featureCount = view.features.length;
  const maxEventTsMillis =
    options.maxEventTimeSkewMillis === undefined
      ? Infinity
      : (options.nowMillis ?? Date.now()) + options.maxEventTimeSkewMillis;
  const minEventTsMillis = options.minEventTsMillis ?? -Infinity;
  const maxValueBytes = options.maxValueBytes ?? MAX_VALUE_BYTES;
  const maxListLength = options.maxListLength ?? MAX_LIST_LENGTH;

  // Columns: sort into join keys and features.
  const keyColumns = new Array<ArrayLike<unknown> | undefined>(keyCount).fill(undefined);
  const featureColumns = new Array<ArrayLike<unknown> | undefined>(featureCount).fill(undefined);
  const reported = new Set<string>();
  const entries: Iterable<[string, unknown]> =
    input.columns instanceof Map ? input.columns.entries() : Object.entries(input.columns);
  for (const [name, column] of entries) {
    const k = compiled.joinKeyIndex.get(name);
    const f = compiled.featureIndex.get(name);
    if (k === undefined && f === undefined) {
      problems.add(`column ${showName(name)}`, compiled.unknownColumnHint);
    } else if (!isColumn(column)) {
      problems.add(`column ${showName(name)}`, `expected an array of values, got ${describeValue(column)}`);
      reported.add(name);
    } else if (k !== undefined) {
      keyColumns[k] = column;
    } else if (f !== undefined) {
      featureColumns[f] = column;
    }
  }
  view.joinKeys.forEach((key, k) => {
    if (keyColumns[k] === undefined && !reported.has(key.name))
      problems.add(`column ${key.name}`, 'missing join key column');
  });
  const timestamps: ArrayLike<unknown> | undefined = isColumn(input.eventTimestamps)
    ? input.eventTimestamps
    : undefined;
  if (timestamps === undefined) {
    problems.add('event timestamps', `expected an array of values, got ${describeValue(input.eventTimestamps)}`);
  }

  // Lengths: every column must match the first join key column (or the event timestamps).
  const referenceKey = keyColumns.findIndex((c) => c !== undefined);
  const reference = referenceKey >= 0 ? keyColumns[referenceKey] : timestamps;
  const referenceName = referenceKey >= 0 ? `column ${view.joinKeys[referenceKey]?.name}` : 'event timestamps';
  const rowCount = reference?.length ?? 0;
  let maxLength = rowCount;
  const checkLength = (column: ArrayLike<unknown> | undefined, path: string): void => {
    if (column === undefined || column === reference) return;
    if (column.length !== rowCount)
      problems.add(path, `has ${column.length} values but ${referenceName} has ${rowCount}`);
    maxLength = Math.max(maxLength, column.length);
  };
  keyColumns.forEach((c, k) => checkLength(c, `column ${view.joinKeys[k]?.name}`));
  featureColumns.forEach((c, f) => checkLength(c, `column ${view.features[f]?.name}`));
  checkLength(timestamps, 'event timestamps');

  if (rowCount > 0) {
    compiled.checks.forEach((checks, f) => {
      if (checks.notNull && featureColumns[f] === undefined && !reported.has(checks.name)) {
        problems.add(`column ${checks.name}`, 'column is missing, but the feature is not_null');
      }
    });
  }

  // Rows, in row order so that the first problem reported is the first in the batch.
  const eventTsMillis = new Float64Array(rowCount);
  const joinKeyValues: JoinKeyValue[][] = [];
  const entityKeys: string[] = [];
  const featureValues: FeatureValue[][] = featureColumns.map(() => new Array<FeatureValue>(rowCount).fill(null));
  const firstRowOfKey = new Map<string, number>();
  const events = view.kind === 'events';
  const latestRowOfKey = new Map<string, number>();
  const allKeyColumns = keyColumns.every((c) => c !== undefined && c.length === rowCount);
  for (let row = 0; row < maxLength; row++) {
    if (timestamps !== undefined && row < timestamps.length) {
      const raw = timestamps[row];
      const ts = raw === null || raw === undefined ? undefined : parseRawTimestamp(raw);
      if (ts !== undefined) {
        eventTsMillis[row] = ts;
        if (ts > maxEventTsMillis)
          problems.add(
            `row ${row}, event timestamp`,
            `${formatTimestamp(ts)} is later than the server's clock plus ${options.maxEventTimeSkewMillis} ms ` +
              `(${formatTimestamp(maxEventTsMillis)}; maxEventTimeSkewMillis): future events would shadow every real one`,
          );
        else if (ts < minEventTsMillis)
          problems.add(
            `row ${row}, event timestamp`,
            `${formatTimestamp(ts)} is earlier than the earliest event time ${formatTimestamp(minEventTsMillis)}`,
          );
      } else if (raw === null || raw === undefined)
        problems.add(`row ${row}, event timestamp`, 'missing event timestamp');
      else
        problems.add(
          `row ${row}, event timestamp`,
          `${describeValue(raw)} is not a timestamp; expected ${TIMESTAMP_FORMATS_HINT}`,
        );
    }

    const keys = new Array<JoinKeyValue>(keyCount);
    let keysValid = allKeyColumns && row < rowCount;
    for (let k = 0; k < keyCount; k++) {
      const column = keyColumns[k];
      if (column === undefined || row >= column.length) continue;
      const spec = view.joinKeys[k] as (typeof view.joinKeys)[number];
      const raw = column[row];
      const value = coerceJoinKey(spec.type, raw);
      if (value !== undefined) {
        const problem = keyValueProblem(value);
        if (problem === undefined) {
          keys[k] = value;
          continue;
        }
        keysValid = false;
        problems.add(`row ${row}, column ${spec.name}`, problem);
        continue;
      }
      keysValid = false;
      if (raw === null || raw === undefined) problems.add(`row ${row}, column ${spec.name}`, 'join key is null');
      else problems.add(`row ${row}, column ${spec.name}`, `expected ${spec.type}, got ${describeValue(raw)}`);
    }

    for (let f = 0; f < featureCount; f++) {
      const column = featureColumns[f];
      if (column === undefined || row >= column.length) continue;
      const checks = compiled.checks[f] as FeatureChecks;
      const raw = column[row];
      const value = coerceFeatureValue(checks.type, raw);
      if (value === WRONG_TYPE) {
        problems.add(`row ${row}, column ${checks.name}`, `expected ${checks.type}, got ${describeValue(raw)}`);
      } else if (value === null) {
        if (checks.notNull) problems.add(`row ${row}, column ${checks.name}`, 'null is not allowed (not_null)');
      } else {
        const problem = sizeProblem(value, maxValueBytes, maxListLength) ?? checks.check(value);
        if (problem !== undefined) problems.add(`row ${row}, column ${checks.name}`, problem);
        else if (row < rowCount) (featureValues[f] as FeatureValue[])[row] = value;
      }
    }

    if (keysValid) {
      const key = entityKey(view.entities, keys);
      const keyProblem = entityKeyProblem(key);
      if (keyProblem !== undefined) {
        const names = view.joinKeys.map((k) => k.name);
        problems.add(`row ${row}, ${names.length === 1 ? 'column' : 'columns'} ${names.join(', ')}`, keyProblem);
        continue;
      }
      // Two rows of one entity at one event time contradict each other in a state view; at different
      // times they are history. In an event view they are two events (identical rows are one event,
      // by fingerprint), and the plain LWW row takes the last of them in batch order.
      const rowId = `${key}\u0000${eventTsMillis[row]}`;
      const first = events ? undefined : firstRowOfKey.get(rowId);
      if (first === undefined) {
        firstRowOfKey.set(rowId, row);
      } else {
        const names = view.joinKeys.map((k) => k.name);
        const shown = view.joinKeys.map((k, i) => `${k.name}=${formatValue(keys[i])}`).join(', ');
        problems.add(
          `row ${row}, ${names.length === 1 ? 'column' : 'columns'} ${names.join(', ')}`,
          `duplicate entity key ${shown} at the same event time (also in row ${first})`,
        );
      }
      const latest = latestRowOfKey.get(key);
      if (latest === undefined || (eventTsMillis[latest] as number) <= (eventTsMillis[row] as number))
        latestRowOfKey.set(key, row);
      joinKeyValues.push(keys);
      entityKeys.push(key);
    }
  }

  if (problems.total > 0) {
    const first = problems.listed[0];
    const more = problems.total - 1;
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Write to ${compiled.label} rejected: ${first?.path}: ${first?.message}` +
        (more > 0 ? ` (and ${more} more problem${more === 1 ? '' : 's'})` : ''),
      { details: problems.details() },
    );
  }

  const rows = new Array<Buffer>(rowCount);
  const rowValues = new Array<FeatureValue>(featureCount);
  for (let row = 0; row < rowCount; row++) {
    for (let f = 0; f < featureCount; f++) rowValues[f] = (featureValues[f] as FeatureValue[])[row] ?? null;
    rows[row] = compiled.encoder.encode(eventTsMillis[row] as number, rowValues);
  }
  const latestRowPerKey = [...latestRowOfKey.values()].sort((a, b) => a - b);
  return { rowCount, joinKeyValues, entityKeys, latestRowPerKey, eventTsMillis, featureValues, rows };
}

/** Why a value is too large to store (string or bytes value, list length, string list element), or undefined. */
function sizeProblem(value: NonNullable<FeatureValue>, maxBytes: number, maxListLength: number): string | undefined {
  if (typeof value === 'string') {
    const bytes = utf8BytesOver(value, maxBytes);
    return bytes === undefined
      ? undefined
      : `string of ${bytes} UTF-8 bytes is longer than the limit of ${maxBytes} (maxValueBytes)`;
  }
  if (value instanceof Uint8Array) {
    return value.length > maxBytes
      ? `${value.length} bytes is longer than the limit of ${maxBytes} (maxValueBytes)`
      : undefined;
  }
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const list = value as ArrayLike<unknown>;
    if (list.length > maxListLength)
      return `list of ${list.length} elements is longer than the limit of ${maxListLength} (maxListLength)`;
    if (Array.isArray(value)) {
      for (let i = 0; i < list.length; i++) {
        const bytes = utf8BytesOver(list[i] as string, maxBytes);
        if (bytes !== undefined)
          return `element ${i}: string of ${bytes} UTF-8 bytes is longer than the limit of ${maxBytes} (maxValueBytes)`;
      }
    }
  }
  return undefined;
}

function parseRawTimestamp(raw: unknown): number | undefined {
  return typeof raw === 'number' || typeof raw === 'bigint' || typeof raw === 'string'
    ? parseTimestamp(raw)
    : undefined;
}
