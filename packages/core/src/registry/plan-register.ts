/**
 * Builds the registered form of a view version from its definition: storage-order features
 * (int64 allowed values normalised to bigint), resolved join keys, and only the kind-specific
 * parts the view's kind has (a plain view's stored state keeps the shape it always had).
 */
import type {
  Constraints,
  FeatureDef,
  FeatureViewDef,
  JoinKeySpec,
  RegisteredAggregation,
  RegisteredView,
} from '../model.js';
import { effectiveEventOptions } from '../definitions/aggregation-rules.js';
import { registerAggregations } from './view-diff.js';

/** The aggregations of a new view version: registered afresh against the definition's features. */
export function fresh(def: FeatureViewDef): RegisteredAggregation[] {
  return registerAggregations(def.aggregations, def.features);
}

/** A registered view version built from a definition, its resolved join keys and its features in storage order. */
export function register(
  def: FeatureViewDef,
  id: number,
  version: number,
  joinKeys: readonly JoinKeySpec[],
  features: readonly FeatureDef[],
  aggregations: readonly RegisteredAggregation[],
  createdAtMillis: number,
  updatedAtMillis: number,
): RegisteredView {
  // Plain views keep the shape they always had (nothing stored for kind, events, aggregations, onDemand).
  const events =
    def.kind === 'events'
      ? { kind: 'events' as const, events: effectiveEventOptions(def), aggregations: [...aggregations] }
      : def.kind === 'on_demand' && def.onDemand !== undefined
        ? { kind: 'on_demand' as const, onDemand: structuredClone(def.onDemand) }
        : def.kind === 'sql' && def.sql !== undefined
          ? { kind: 'sql' as const, sql: { ...def.sql, reads: [...def.sql.reads] } }
          : {};
  const view: RegisteredView = {
    name: def.name,
    ...events,
    entities: [...def.entities],
    features: features.map(normalizeFeature),
    ttlSeconds: def.ttlSeconds,
    owner: def.owner,
    tags: { ...def.tags },
    description: def.description,
    id,
    version,
    joinKeys: joinKeys.map((k) => ({ name: k.name, type: k.type })),
    createdAtMillis,
    updatedAtMillis,
  };
  return def.source === undefined ? view : { ...view, source: { ...def.source } };
}

/** int64 allowed values are stored as bigint whichever way they arrived (YAML bigint, gRPC number). */
function normalizeFeature(feature: FeatureDef): FeatureDef {
  const allowed = feature.constraints.allowedValues;
  const int64 = feature.type === 'int64' || feature.type === 'int64_list';
  if (allowed === undefined || !int64) return feature;
  const constraints: Constraints = {
    ...feature.constraints,
    allowedValues: allowed.map((v) => (typeof v === 'number' ? BigInt(v) : v)),
  };
  return { ...feature, constraints };
}
