import type { FeatureValue, JoinKeyValue, ValueType } from '@tessera/core';
import { FeatureStatus } from '@tessera/proto';
import type { Column, GetOnlineFeaturesResponse } from '@tessera/proto';
import { columnValueType, fromColumn, fromProtoValueType, toColumn } from '@tessera/wire';

/** Status of one feature value for one entity. */
export type FeatureStatusName = 'PRESENT' | 'NOT_FOUND' | 'EXPIRED';

/** Online features, by entity row: what `tessera get` prints. */
export interface OnlineFeatures {
  /** Resolved refs (`view@version:feature`), in request order. */
  readonly refs: readonly string[];
  readonly types: readonly ValueType[];
  /** values[f][i]: feature f of entity i. */
  readonly values: readonly FeatureValue[][];
  readonly statuses: readonly FeatureStatusName[][];
  /** Event timestamps (ms) when asked; 0 when not present. */
  readonly eventTimestamps?: readonly number[][];
}

const STATUS_NAMES: Record<number, FeatureStatusName> = {
  [FeatureStatus.FEATURE_STATUS_PRESENT]: 'PRESENT',
  [FeatureStatus.FEATURE_STATUS_NOT_FOUND]: 'NOT_FOUND',
  [FeatureStatus.FEATURE_STATUS_EXPIRED]: 'EXPIRED',
};

/** One entity's features by resolved ref: each value with its status (and event time when asked). */
export type OnlineFeatureRow = Record<
  string,
  { value: FeatureValue; status: FeatureStatusName; eventTimestamp?: number }
>;

/** The answer of `getOnlineFeatures` as one object per entity, in request order. */
export function onlineFeatureRows(features: OnlineFeatures): OnlineFeatureRow[] {
  const count = features.statuses[0]?.length ?? 0;
  const rows: OnlineFeatureRow[] = [];
  for (let i = 0; i < count; i++) {
    const row: OnlineFeatureRow = {};
    features.refs.forEach((ref, f) => {
      const eventTimestamp = features.eventTimestamps?.[f]?.[i];
      row[ref] = {
        value: features.values[f]?.[i] ?? null,
        status: features.statuses[f]?.[i] ?? 'NOT_FOUND',
        ...(eventTimestamp === undefined ? {} : { eventTimestamp }),
      };
    });
    rows.push(row);
  }
  return rows;
}
/** Join key columns from join key → values: all strings make a string column, else int64 (bigint or number). */
export function entityColumns(
  entities: Readonly<Record<string, readonly (JoinKeyValue | number)[]>>,
): Record<string, Column> {
  const columns: Record<string, Column> = {};
  for (const [name, values] of Object.entries(entities)) {
    columns[name] = values.every((v) => typeof v === 'string')
      ? toColumn('string', values)
      : toColumn(
          'int64',
          values.map((v) => BigInt(v)),
        );
  }
  return columns;
}

/** A columnar GetOnlineFeatures answer decoded into values and status names. */
export function toOnlineFeatures(response: GetOnlineFeaturesResponse, withTimestamps: boolean): OnlineFeatures {
  return {
    refs: response.features.map((f) => f.ref),
    types: response.features.map(
      (f): ValueType => fromProtoValueType(f.type) ?? (f.values ? columnValueType(f.values) : undefined) ?? 'string',
    ),
    values: response.features.map((f) => (f.values ? fromColumn(f.values) : [])),
    statuses: response.features.map((f) => f.statuses.map((s) => STATUS_NAMES[s] ?? 'NOT_FOUND')),
    ...(withTimestamps ? { eventTimestamps: response.features.map((f) => f.eventTimestamps.map(Number)) } : {}),
  };
}

/** Entities of an online read: join key → one value per entity. */
export type OnlineEntities = Readonly<Record<string, readonly (JoinKeyValue | number)[]>>;

/** An online read as one object: refs or a feature service, entities, and whether to return event times. */
export interface OnlineRequest {
  readonly features?: readonly string[];
  readonly featureService?: string;
  readonly entities: OnlineEntities;
  readonly includeEventTimestamps?: boolean;
}

/** The request of either form of `getOnlineFeatures`: `(request)` or `(refs, entities, options)`. */
export function onlineRequest(
  first: readonly string[] | { readonly featureService: string } | OnlineRequest,
  entities: OnlineEntities | undefined,
  includeEventTimestamps: boolean,
): OnlineRequest {
  if (entities === undefined && !Array.isArray(first) && 'entities' in first) return first;
  const features = Array.isArray(first)
    ? { features: first as readonly string[] }
    : { featureService: (first as { featureService: string }).featureService };
  return { ...features, entities: entities ?? {}, includeEventTimestamps };
}
