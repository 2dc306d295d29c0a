import type {
  Constraints,
  Definitions,
  EntityDef,
  EntitySourceDef,
  EntitySourceParamType,
  FeatureDef,
  FeatureServiceDef,
  FeatureViewDef,
  JoinKeySpec,
  Problem,
  RegisteredView,
  ValueType as CoreValueType,
} from '@tessera/core';
import type {
  Definitions as ProtoDefinitions,
  Entity,
  EntitySource,
  Feature,
  FeatureConstraints,
  FeatureService,
  FeatureView,
  JoinKey,
  Value,
} from '@tessera/proto';
import { fromProtoValueType, toProtoValueType } from './columns.js';
import { fromProtoOnDemand, toProtoOnDemand } from './on-demand.js';
import { fromProtoSqlSource, toProtoSqlSource } from './sql-view.js';
import {
  fromProtoAggregation,
  fromProtoEventOptions,
  fromProtoRegisteredAggregation,
  fromProtoViewKind,
  toProtoAggregation,
  toProtoEventOptions,
  toProtoViewKind,
} from './aggregations.js';

/** Converts definitions to their wire form (what `tessera apply` sends). */
export function toProtoDefinitions(defs: Definitions): ProtoDefinitions {
  return {
    project: defs.project,
    entities: defs.entities.map(toProtoEntity),
    featureViews: defs.featureViews.map(toProtoView),
    featureServices: defs.featureServices.map(toProtoService),
    entitySources: (defs.entitySources ?? []).map(toProtoEntitySource),
  };
}

/** An entity source in wire form. */
export function toProtoEntitySource(source: EntitySourceDef): EntitySource {
  return {
    name: source.name,
    description: source.description,
    owner: source.owner,
    sql: source.sql,
    params: source.params.map((p) => ({ name: p.name, type: p.type, description: p.description })),
  };
}

/** An entity source from its wire form (the parameter types are checked by validation). */
export function fromProtoEntitySource(source: EntitySource): EntitySourceDef {
  return {
    name: source.name,
    description: source.description,
    owner: source.owner,
    sql: source.sql,
    params: source.params.map((p) => ({
      name: p.name,
      type: p.type as EntitySourceParamType,
      description: p.description,
    })),
  };
}

export function toProtoEntity(entity: EntityDef): Entity {
  return {
    name: entity.name,
    joinKeys: entity.joinKeys.map(toProtoJoinKey),
    description: entity.description,
    tags: { ...entity.tags },
  };
}

function toProtoJoinKey(key: JoinKeySpec): JoinKey {
  return { name: key.name, type: toProtoValueType(key.type) };
}

/** A view (definition or registered version) in wire form; registry fields are set when known. */
export function toProtoView(view: FeatureViewDef | RegisteredView): FeatureView {
  const registered = 'version' in view ? view : undefined;
  return {
    name: view.name,
    entities: [...view.entities],
    features: view.features.map(toProtoFeature),
    ttlSeconds: BigInt(view.ttlSeconds),
    owner: view.owner,
    tags: { ...view.tags },
    description: view.description,
    source: view.source ? { ...view.source } : undefined,
    kind: toProtoViewKind(view),
    aggregations: (view.aggregations ?? []).map(toProtoAggregation),
    events: toProtoEventOptions(view.events),
    sqlSource: toProtoSqlSource(view),
    inputs: [],
    requestFields: [],
    onDemand: [],
    ...toProtoOnDemand(view),
    id: registered?.id ?? 0,
    version: registered?.version ?? 0,
    joinKeys: registered ? registered.joinKeys.map(toProtoJoinKey) : [],
    createdAt: registered ? new Date(registered.createdAtMillis) : undefined,
    updatedAt: registered ? new Date(registered.updatedAtMillis) : undefined,
  };
}

function toProtoFeature(feature: FeatureDef): Feature {
  const c = feature.constraints;
  const constraints: FeatureConstraints = {
    notNull: c.notNull,
    min: c.min,
    max: c.max,
    allowedValues: (c.allowedValues ?? []).map(toProtoScalar),
    maxLength: c.maxLength,
    allowNan: c.allowNaN,
  };
  return {
    name: feature.name,
    type: toProtoValueType(feature.type),
    dimension: feature.dimension,
    constraints,
    description: feature.description,
    tags: { ...feature.tags },
  };
}

function toProtoScalar(v: string | number | bigint): Value {
  if (typeof v === 'string') return { kind: { $case: 'stringValue', value: v } };
  if (typeof v === 'bigint') return { kind: { $case: 'int64Value', value: v } };
  return { kind: { $case: 'doubleValue', value: v } };
}

export function toProtoService(service: FeatureServiceDef): FeatureService {
  return {
    name: service.name,
    features: [...service.features],
    description: service.description,
    owner: service.owner,
    tags: { ...service.tags },
  };
}

/**
 * Reads wire definitions into core's model. Problems that the wire form allows but the model
 * cannot hold (an unspecified type, a non-scalar allowed value) are returned, not thrown, so the
 * caller can report them together with the semantic validation.
 */
export function fromProtoDefinitions(
  defs: ProtoDefinitions,
  /** Keep SQL views' registry-assigned lineage (reading registered views, not definitions). */
  keepReads = false,
): { definitions: Definitions; problems: Problem[] } {
  const problems: Problem[] = [];
  const valueType = (t: number, path: string): CoreValueType => {
    const type = fromProtoValueType(t);
    if (type === undefined) {
      problems.push({ path, message: `type is not set or unknown (${t}); expected one of the ValueType values` });
      return 'string';
    }
    return type;
  };
  const joinKeys = (keys: readonly JoinKey[], path: string): JoinKeySpec[] =>
    keys.map((k, i) => {
      const type = valueType(k.type, `${path}[${i}].type`);
      if (type !== 'int64' && type !== 'string') {
        problems.push({
          path: `${path}[${i}].type`,
          message: `join key type ${type} is not allowed: use int64 or string`,
        });
        return { name: k.name, type: 'string' };
      }
      return { name: k.name, type };
    });
  const entities: EntityDef[] = defs.entities.map((e, i) => ({
    name: e.name,
    joinKeys: joinKeys(e.joinKeys, `entities[${i}].join_keys`),
    description: e.description,
    tags: { ...e.tags },
  }));
  const featureViews: FeatureViewDef[] = defs.featureViews.map((v, i) => {
    const features: FeatureDef[] = v.features.map((f, j) =>
      fromProtoFeature(f, `feature_views[${i}].features[${j}]`, valueType, problems),
    );
    const ttl = Number(v.ttlSeconds);
    const kind = fromProtoViewKind(v.kind, `feature_views[${i}].kind`, problems);
    const events = fromProtoEventOptions(v.events);
    const od = kind === 'on_demand' ? fromProtoOnDemand(v, `feature_views[${i}]`, valueType, problems) : undefined;
    const sql = kind === 'sql' ? fromProtoSqlSource(v, `feature_views[${i}]`, problems, keepReads) : undefined;
    if (kind !== 'sql' && v.sqlSource !== undefined) {
      problems.push({
        path: `feature_views[${i}].kind`,
        message: `feature view ${v.name}: sql_source needs kind VIEW_KIND_SQL`,
      });
    }
    if (kind !== 'on_demand' && v.inputs.length + v.requestFields.length + v.onDemand.length > 0) {
      problems.push({
        path: `feature_views[${i}].kind`,
        message: `feature view ${v.name}: inputs, request_fields and on_demand need kind VIEW_KIND_ON_DEMAND`,
      });
    }
    return {
      name: v.name,
      ...(kind === undefined ? {} : { kind }),
      ...(events === undefined ? {} : { events }),
      ...(v.aggregations.length === 0
        ? {}
        : {
            aggregations: v.aggregations.map((a, k) =>
              fromProtoAggregation(a, `feature_views[${i}].aggregations[${k}]`, problems),
            ),
          }),
      ...(od === undefined ? {} : { onDemand: od.onDemand }),
      ...(sql === undefined ? {} : { sql }),
      entities: [...v.entities],
      features: od?.features ?? features,
      ttlSeconds: ttl,
      owner: v.owner,
      tags: { ...v.tags },
      description: v.description,
      ...(v.source ? { source: { ...v.source } } : {}),
    };
  });
  const featureServices: FeatureServiceDef[] = defs.featureServices.map((s) => ({
    name: s.name,
    features: [...s.features],
    description: s.description,
    owner: s.owner,
    tags: { ...s.tags },
  }));
  const entitySources = defs.entitySources.map(fromProtoEntitySource);
  return { definitions: { project: defs.project, entities, featureViews, featureServices, entitySources }, problems };
}

function fromProtoFeature(
  f: Feature,
  path: string,
  valueType: (t: number, path: string) => CoreValueType,
  problems: Problem[],
): FeatureDef {
  const c = f.constraints;
  const allowed: (string | number | bigint)[] = [];
  (c?.allowedValues ?? []).forEach((v, k) => {
    switch (v.kind?.$case) {
      case 'stringValue':
      case 'int64Value':
      case 'doubleValue':
        allowed.push(v.kind.value);
        break;
      default:
        problems.push({
          path: `${path}.constraints.allowed_values[${k}]`,
          message: 'allowed values must be strings, int64 or double values',
        });
    }
  });
  const constraints: Constraints = {
    notNull: c?.notNull ?? false,
    allowNaN: c?.allowNan ?? false,
    ...(c?.min !== undefined ? { min: c.min } : {}),
    ...(c?.max !== undefined ? { max: c.max } : {}),
    ...(allowed.length > 0 ? { allowedValues: allowed } : {}),
    ...(c?.maxLength !== undefined ? { maxLength: c.maxLength } : {}),
  };
  return {
    name: f.name,
    type: valueType(f.type, `${path}.type`),
    dimension: f.dimension,
    constraints,
    description: f.description,
    tags: { ...f.tags },
  };
}

/** Reads a registered view version from its wire form (as Registry.Get/List return it). */
export function fromProtoView(view: FeatureView): RegisteredView {
  const { definitions } = fromProtoDefinitions(
    { project: '', entities: [], featureViews: [view], featureServices: [], entitySources: [] },
    true,
  );
  // The declared aggregations are replaced by the registered ones (with type, spec version, state).
  const { aggregations: _declared, ...def } = definitions.featureViews[0] as FeatureViewDef;
  return {
    ...def,
    ...(view.aggregations.length === 0 ? {} : { aggregations: view.aggregations.map(fromProtoRegisteredAggregation) }),
    id: view.id,
    version: view.version,
    joinKeys: view.joinKeys.map((k) => ({
      name: k.name,
      type: fromProtoValueType(k.type) === 'int64' ? 'int64' : 'string',
    })),
    createdAtMillis: view.createdAt?.getTime() ?? 0,
    updatedAtMillis: view.updatedAt?.getTime() ?? 0,
  };
}
