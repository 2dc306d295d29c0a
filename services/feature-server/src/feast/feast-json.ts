/**
 * Feast's feature-server JSON ⇄ Tessera's requests and responses. The shapes are Feast's own
 * (feast/feature_server.py and feature_server_utils.py at the version bench/feast pins): a Feast SDK
 * configured with `online_store: {type: remote}` parses these answers, so field names, status
 * strings, timestamp text and value encodings follow Feast exactly. Values older than their view's
 * TTL follow the configured {@link FeastExpiredMode}.
 */
import { TesseraError, showName } from '@tessera/core';
import type { FeatureValue, RegisteredView, ValueType } from '@tessera/core';
import { fromColumn, fromProtoValueType, toColumn } from '@tessera/wire';
import { FeatureStatus, WriteTarget } from '@tessera/proto';
import type { Column, GetOnlineFeaturesRequest, GetOnlineFeaturesResponse, WriteRequest } from '@tessera/proto';

/**
 * A value older than its view's TTL: `serve-stale` as Feast's Python feature server answers it (the
 * value, PRESENT — Feast's online read ignores the TTL, feast-dev/feast#6821); `outside-max-age` as
 * Tessera's gRPC API and Feast's Go feature server answer it (OUTSIDE_MAX_AGE, no value: what a
 * point-in-time training set holds for it).
 */
export type FeastExpiredMode = 'serve-stale' | 'outside-max-age';

/** Feast's FieldStatus names. EXPIRED is Feast's OUTSIDE_MAX_AGE. */
const FEAST_STATUS: Readonly<Record<FeatureStatus, string>> = {
  [FeatureStatus.FEATURE_STATUS_UNSPECIFIED]: 'INVALID',
  [FeatureStatus.FEATURE_STATUS_PRESENT]: 'PRESENT',
  [FeatureStatus.FEATURE_STATUS_NOT_FOUND]: 'NOT_FOUND',
  [FeatureStatus.FEATURE_STATUS_EXPIRED]: 'OUTSIDE_MAX_AGE',
  [FeatureStatus.UNRECOGNIZED]: 'INVALID',
};

/** Feast's Python feature server: an expired value is PRESENT. */
const STALE_AS_PRESENT: Readonly<Record<FeatureStatus, string>> = {
  ...FEAST_STATUS,
  [FeatureStatus.FEATURE_STATUS_EXPIRED]: 'PRESENT',
};

/** Feast's text of a zero timestamp (join key columns, entities not found). */
const EPOCH_TEXT = '1970-01-01T00:00:00Z';

/** Columns of a Feast write frame that are not features or join keys. */
const EVENT_TIMESTAMP_COLUMN = 'event_timestamp';
const CREATED_COLUMN = 'created';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): TesseraError {
  return new TesseraError('INVALID_ARGUMENT', message);
}

/** A JSON number that is an integer JSON cannot carry exactly (beyond ±2^53) has lost digits already. */
function checkSafeNumber(value: number, where: string): void {
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    throw invalid(
      `${where}: ${value} is beyond ±2^53, where JSON numbers lose digits; send the value as a decimal string`,
    );
  }
}

/** A parsed `/get-online-features` body, ready for GetOnlineFeatures. */
export interface FeastReadRequest {
  readonly request: GetOnlineFeaturesRequest;
  /** Join key columns in the order the body gave them; Feast echoes them first in its answer. */
  readonly entityColumns: readonly { readonly name: string; readonly values: readonly Json[] }[];
  readonly fullFeatureNames: boolean;
}

/** Parses Feast's GetOnlineFeaturesRequest body: `{features | feature_service, entities, full_feature_names}`. */
export function parseReadBody(body: unknown): FeastReadRequest {
  if (!isObject(body)) throw invalid('get-online-features: the body must be a JSON object');
  const { features, feature_service: featureService, entities, full_feature_names: fullFeatureNames } = body;
  if (features !== undefined && (!Array.isArray(features) || !features.every((f) => typeof f === 'string'))) {
    throw invalid('get-online-features: features must be a list of refs such as "driver_stats:conv_rate"');
  }
  if (featureService !== undefined && featureService !== null && typeof featureService !== 'string') {
    throw invalid('get-online-features: feature_service must be a string');
  }
  if (fullFeatureNames !== undefined && typeof fullFeatureNames !== 'boolean') {
    throw invalid('get-online-features: full_feature_names must be true or false');
  }
  if (!isObject(entities)) {
    throw invalid('get-online-features: entities must be an object of join key → list of values');
  }
  const entityColumns: { name: string; values: Json[] }[] = [];
  const columns: Record<string, Column> = {};
  for (const [name, values] of Object.entries(entities)) {
    if (!Array.isArray(values)) throw invalid(`get-online-features: entities.${showName(name)} must be a list`);
    columns[name] = entityColumn(name, values);
    entityColumns.push({ name, values: values as Json[] });
  }
  const refs = features ?? [];
  // Feast gives feature_service precedence when both are sent.
  const service = typeof featureService === 'string' && featureService !== '' ? featureService : '';
  return {
    request: {
      features: service === '' ? refs : [],
      featureService: service,
      entities: columns,
      includeEventTimestamps: true,
    },
    entityColumns,
    fullFeatureNames: fullFeatureNames === true,
  };
}

/** A join key column: integers become int64, strings stay strings (decimal strings serve int64 keys too). */
function entityColumn(name: string, values: readonly unknown[]): Column {
  const where = `get-online-features: entities.${showName(name)}`;
  if (values.every((v) => typeof v === 'string')) return toColumn('string', values);
  if (values.every((v) => typeof v === 'number' && Number.isInteger(v))) {
    return toColumn(
      'int64',
      (values as number[]).map((v, row) => {
        checkSafeNumber(v, `${where}[${row}]`);
        return BigInt(v);
      }),
    );
  }
  // The first value that is neither an integer nor a string, or whose kind differs from the first value's.
  const kindOf = (v: unknown): string => (typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v);
  const first = kindOf(values[0]);
  const row = Math.max(
    0,
    values.findIndex((v) => kindOf(v) !== first || (first !== 'integer' && first !== 'string')),
  );
  throw invalid(
    `${where}[${row}]: join key values must be all integers or all strings, got ${JSON.stringify(values[row])}`,
  );
}

/** Feast's RFC 3339 text of an event time: no fraction when whole seconds, else milliseconds. */
export function feastTimestampText(millis: number): string {
  if (millis === 0) return EPOCH_TEXT;
  const iso = new Date(millis).toISOString();
  return millis % 1000 === 0 ? `${iso.slice(0, 19)}Z` : iso;
}

/** One value as Feast's convert_response_to_dict writes it, as JSON text. */
function valueText(type: ValueType, value: FeatureValue): string {
  if (value === null) return 'null';
  switch (type) {
    case 'int64':
      return String(value);
    case 'double':
      return floatText(value as number);
    case 'timestamp':
      // Feast's unix_timestamp_val is whole seconds.
      return String(Math.floor((value as number) / 1000));
    case 'bytes':
      return JSON.stringify(Buffer.from(value as Uint8Array).toString('base64'));
    case 'float_list':
    case 'double_list':
      return `[${Array.from(value as Float32Array | Float64Array, floatText).join(',')}]`;
    case 'int64_list':
      return `[${Array.from(value as BigInt64Array, (v) => String(v)).join(',')}]`;
    case 'string':
    case 'bool':
    case 'string_list':
      return JSON.stringify(value);
  }
}

/**
 * A double as Feast's feature server writes it (Python's json): always with a fraction or an
 * exponent, `0.0` not `0`, since the SDK's remote store types each JSON value by its Python type (a
 * bare `2` would reach `to_dict()` as an int). NaN and ±Infinity are not JSON numbers: Feast writes
 * them as protobuf JSON strings.
 */
export function floatText(value: number): string {
  if (Number.isFinite(value)) {
    if (Object.is(value, -0)) return '-0.0';
    const text = JSON.stringify(value);
    return /[.e]/.test(text) ? text : `${text}.0`;
  }
  return Number.isNaN(value) ? '"NaN"' : value > 0 ? '"Infinity"' : '"-Infinity"';
}

/**
 * The `/get-online-features` answer, as JSON text: join key columns first (values echoed, PRESENT,
 * zero timestamps), then one result per feature, named `feature` or `view__feature`. A value older
 * than its view's TTL is answered as `expired` says (the response holds its value for `serve-stale`).
 */
export function formatReadResponse(
  read: FeastReadRequest,
  response: GetOnlineFeaturesResponse,
  expired: FeastExpiredMode,
): string {
  const statusText = expired === 'serve-stale' ? STALE_AS_PRESENT : FEAST_STATUS;
  const names: string[] = [];
  const results: string[] = [];
  for (const entity of read.entityColumns) {
    names.push(entity.name);
    const n = entity.values.length;
    results.push(
      `{"values":${JSON.stringify(entity.values)},"statuses":${JSON.stringify(new Array<string>(n).fill('PRESENT'))},"event_timestamps":${JSON.stringify(new Array<string>(n).fill(EPOCH_TEXT))}}`,
    );
  }
  for (const feature of response.features) {
    names.push(feastFeatureName(feature.ref, read.fullFeatureNames));
    const type = fromProtoValueType(feature.type);
    if (type === undefined || feature.values === undefined) {
      throw new TesseraError('INTERNAL', `the answer for ${feature.ref} has no value type`);
    }
    const values = fromColumn(feature.values);
    results.push(
      `{"values":[${values.map((v) => valueText(type, v)).join(',')}],` +
        `"statuses":[${feature.statuses.map((s) => `"${statusText[s]}"`).join(',')}],` +
        `"event_timestamps":[${feature.eventTimestamps.map((t) => `"${feastTimestampText(Number(t))}"`).join(',')}]}`,
    );
  }
  return `{"results":[${results.join(',')}],"metadata":{"feature_names":${JSON.stringify(names)}}}`;
}

/** `view:feature` (or `view@2:feature`) → `feature`, or `view__feature` with full feature names. */
function feastFeatureName(ref: string, full: boolean): string {
  const colon = ref.indexOf(':');
  const feature = ref.slice(colon + 1);
  if (!full) return feature;
  const view = ref.slice(0, colon).replace(/@\d+$/, '');
  return `${view}__${feature}`;
}

/** A Feast write frame (`df`: column name → list of values) as one Write to `view`. */
export function frameToWrite(view: RegisteredView, frame: unknown, target: WriteTarget, where: string): WriteRequest {
  if (!isObject(frame)) throw invalid(`${where}: df must be an object of column name → list of values`);
  const byName = new Map<string, { type: ValueType }>();
  for (const key of view.joinKeys) byName.set(key.name, { type: key.type });
  for (const feature of view.features) byName.set(feature.name, { type: feature.type });
  const columns: Record<string, Column> = {};
  let rows = -1;
  let eventTimestamps: Column | undefined;
  for (const [name, values] of Object.entries(frame)) {
    if (!Array.isArray(values)) throw invalid(`${where}: df.${showName(name)} must be a list`);
    if (rows >= 0 && values.length !== rows) {
      throw invalid(`${where}: df.${showName(name)} has ${values.length} rows, other columns have ${rows}`);
    }
    rows = values.length;
    if (name === CREATED_COLUMN) continue;
    if (name === EVENT_TIMESTAMP_COLUMN) {
      eventTimestamps = toColumn(
        'timestamp',
        values.map((v, row) => {
          const ms = timestampMillis(v, `${where}: df.event_timestamp[${row}]`);
          if (ms === null)
            throw invalid(`${where}: df.event_timestamp[${row}] is empty; every row needs an event time`);
          return ms;
        }),
      );
      continue;
    }
    const spec = byName.get(name);
    if (spec === undefined) {
      throw invalid(
        `${where}: df.${showName(name)} is not a join key or feature of ${view.name}@${view.version} (it has ${[...byName.keys()].join(', ')})`,
      );
    }
    columns[name] = toColumn(
      spec.type,
      values.map((v, row) => jsonToValue(spec.type, v, `${where}: df.${showName(name)}[${row}]`)),
    );
  }
  if (eventTimestamps === undefined) {
    throw invalid(`${where}: df has no event_timestamp column (ISO 8601 times, UTC when no zone is given)`);
  }
  return {
    featureView: view.name,
    columns,
    eventTimestamps,
    target,
    durability: 0,
    idempotencyKey: '',
  };
}

/** Feast sends naive ISO times meaning UTC (`_to_naive_utc(ts).isoformat()`). */
function timestampMillis(value: unknown, where: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw invalid(`${where}: expected an ISO 8601 time, got ${JSON.stringify(value)}`);
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`;
  const ms = Date.parse(zoned);
  if (!/^\d{4}-\d{2}-\d{2}[T ]/.test(value) || Number.isNaN(ms)) {
    throw invalid(`${where}: ${JSON.stringify(value.slice(0, 40))} is not an ISO 8601 time`);
  }
  return ms;
}

/** A JSON value as the in-memory value of `type`; the write path checks constraints afterwards. */
function jsonToValue(type: ValueType, value: unknown, where: string): FeatureValue {
  if (value === null) return null;
  const wrong = (): TesseraError => invalid(`${where}: ${JSON.stringify(value)?.slice(0, 60)} is not a ${type} value`);
  switch (type) {
    case 'int64':
      if (typeof value === 'number' && Number.isInteger(value)) {
        checkSafeNumber(value, where);
        return BigInt(value);
      }
      if (typeof value === 'string' && /^-?\d{1,19}$/.test(value)) return BigInt(value);
      throw wrong();
    case 'double':
      if (typeof value === 'number') return value;
      if (value === 'NaN') return Number.NaN;
      if (value === 'Infinity') return Number.POSITIVE_INFINITY;
      if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
      throw wrong();
    case 'string':
      if (typeof value === 'string') return value;
      throw wrong();
    case 'bool':
      if (typeof value === 'boolean') return value;
      throw wrong();
    case 'timestamp':
      // Feast's UnixTimestamp travels as whole seconds or as an ISO time.
      if (typeof value === 'number' && Number.isFinite(value)) return Math.round(value * 1000);
      return timestampMillis(value, where);
    case 'bytes':
      if (typeof value === 'string') return new Uint8Array(Buffer.from(value, 'base64'));
      throw wrong();
    case 'float_list':
    case 'double_list': {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) throw wrong();
      return type === 'float_list' ? Float32Array.from(value) : Float64Array.from(value);
    }
    case 'int64_list':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isSafeInteger(v))) throw wrong();
      return BigInt64Array.from((value as number[]).map((v) => BigInt(v)));
    case 'string_list':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw wrong();
      return value;
  }
}

/** Feast's PushMode names → write targets. */
export function pushTarget(to: unknown): WriteTarget {
  switch (to ?? 'online') {
    case 'online':
      return WriteTarget.WRITE_TARGET_ONLINE;
    case 'offline':
      return WriteTarget.WRITE_TARGET_OFFLINE;
    case 'online_and_offline':
      return WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE;
    default:
      throw invalid(
        `push: ${JSON.stringify(to)} is not a supported push format. Please specify one of these ['online', 'offline', 'online_and_offline'].`,
      );
  }
}
