import { viewField } from '@tessera/core';
import type { FeatureDef, JoinKeySpec, RegisteredView, ResolvedFeatures, ValueType } from '@tessera/core';

/** A feature definition with defaults for everything the offline store ignores. */
export function feature(name: string, type: ValueType): FeatureDef {
  return {
    name,
    type,
    dimension: 0,
    constraints: { notNull: false, allowNaN: true },
    description: '',
    tags: {},
  };
}

/** A registered view version, as the registry would hand it to the offline store. */
export function registeredView(
  name: string,
  joinKeys: readonly JoinKeySpec[],
  features: readonly FeatureDef[],
  version = 1,
): RegisteredView {
  return {
    name,
    entities: joinKeys.map((key) => key.name),
    features,
    ttlSeconds: 0,
    owner: 'tests',
    tags: {},
    description: '',
    id: 1,
    version,
    joinKeys,
    createdAtMillis: 0,
    updatedAtMillis: 0,
  };
}

/** One feature of every type, the order the round-trip tests write them in. */
export const EVERY_TYPE: readonly FeatureDef[] = [
  feature('f_int64', 'int64'),
  feature('f_double', 'double'),
  feature('f_string', 'string'),
  feature('f_bool', 'bool'),
  feature('f_timestamp', 'timestamp'),
  feature('f_bytes', 'bytes'),
  feature('f_float_list', 'float_list'),
  feature('f_double_list', 'double_list'),
  feature('f_int64_list', 'int64_list'),
  feature('f_string_list', 'string_list'),
];

/** Every feature of every view, in order: what the registry resolves `view:*` refs to. */
export function resolvedAll(views: readonly RegisteredView[]): ResolvedFeatures {
  return {
    sequence: 0,
    views: views.map((v) => ({
      view: v,
      field: viewField(v.id, v.version),
      featureIndexes: v.features.map((_, i) => i),
      refs: v.features.map((f) => `${v.name}@${v.version}:${f.name}`),
      aggregationIndexes: [],
    })),
    features: views.flatMap((v, slot) =>
      v.features.map((f, i) => ({
        viewSlot: slot,
        featureIndex: i,
        ref: `${v.name}@${v.version}:${f.name}`,
        name: `${v.name}:${f.name}`,
        type: f.type,
      })),
    ),
  };
}
