/**
 * On-demand views between core's model and their wire form (registry.proto FeatureView fields
 * 13–15). In the model an on-demand view's features are ordinary FeatureDefs with one expression
 * each (`onDemand.expressions`, same order); on the wire they are OnDemandFeature messages and
 * `features` stays empty.
 */
import type { FeatureDef, FeatureViewDef, OnDemandDef, Problem, ValueType as CoreValueType } from '@tessera/core';
import type { FeatureView } from '@tessera/proto';
import { toProtoValueType } from './columns.js';

/** Fields 3 and 13–15 of an on-demand view (undefined for other kinds). */
export function toProtoOnDemand(
  view: FeatureViewDef,
): Pick<FeatureView, 'features' | 'inputs' | 'requestFields' | 'onDemand'> | undefined {
  const od = view.onDemand;
  if (view.kind !== 'on_demand' || od === undefined) return undefined;
  return {
    features: [],
    inputs: [...od.inputs],
    requestFields: od.requestFields.map((f) => ({ name: f.name, type: toProtoValueType(f.type) })),
    onDemand: view.features.map((f, i) => ({
      name: f.name,
      type: toProtoValueType(f.type),
      expression: od.expressions[i]?.expression ?? '',
      evaluateNulls: od.expressions[i]?.evaluateNulls ?? false,
      description: f.description,
      tags: { ...f.tags },
    })),
  };
}

/** The features and on-demand part of an ON_DEMAND view read from the wire. */
export function fromProtoOnDemand(
  v: FeatureView,
  path: string,
  valueType: (t: number, path: string) => CoreValueType,
  problems: Problem[],
): { features: FeatureDef[]; onDemand: OnDemandDef } {
  if (v.features.length > 0) {
    problems.push({
      path: `${path}.features`,
      message: 'an ON_DEMAND view declares its features in on_demand, not features',
    });
  }
  const features: FeatureDef[] = v.onDemand.map((f, j) => ({
    name: f.name,
    type: valueType(f.type, `${path}.features[${j}].type`),
    dimension: 0,
    constraints: { notNull: false, allowNaN: true },
    description: f.description,
    tags: { ...f.tags },
  }));
  return {
    features,
    onDemand: {
      inputs: [...v.inputs],
      requestFields: v.requestFields.map((f, j) => ({
        name: f.name,
        type: valueType(f.type, `${path}.request[${j}].type`),
      })),
      expressions: v.onDemand.map((f) => ({ expression: f.expression, evaluateNulls: f.evaluateNulls })),
    },
  };
}
