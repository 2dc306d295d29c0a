import { describe, expect, it } from 'vitest';
import { emptyRegistryState, latestView, parseRepository, planApply, type Definitions } from '@tessera/core';
import { Definitions as ProtoDefinitions, FeatureView, ValueType, ViewKind } from '@tessera/proto';
import { fromProtoDefinitions, fromProtoView, toProtoDefinitions, toProtoView } from '../src/index.js';

const YAML = `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: profile
    entities: [customer]
    features: [{ name: last_at, type: timestamp }, { name: revenue, type: double }]
on_demand_views:
  - name: customer_now
    inputs: [profile:last_at, profile:revenue]
    request: [{ name: cart_total, type: double }]
    description: computed at read time
    tags: { team: growth }
    features:
      - { name: days_since, type: double, expr: 'double(now - profile.last_at) / 86400000.0', description: days }
      - { name: share, type: double, expr: 'cart_total / profile.revenue', evaluate_nulls: true, tags: { a: b } }
`;

function definitions(): Definitions {
  const { definitions, problems } = parseRepository([{ path: 'repo.yaml', text: YAML }]);
  expect(problems).toEqual([]);
  return definitions!;
}

describe('on-demand views on the wire (registry.proto FeatureView 13–15)', () => {
  it('round-trips definitions through encoded bytes, expressions in on_demand and features empty', () => {
    const defs = definitions();
    const decoded = ProtoDefinitions.decode(ProtoDefinitions.encode(toProtoDefinitions(defs)).finish());
    const wire = decoded.featureViews[1]!;
    expect(wire.kind).toBe(ViewKind.VIEW_KIND_ON_DEMAND);
    expect(wire.features).toEqual([]);
    expect(wire.inputs).toEqual(['profile:last_at', 'profile:revenue']);
    expect(wire.requestFields).toEqual([{ name: 'cart_total', type: ValueType.VALUE_TYPE_DOUBLE }]);
    expect(wire.onDemand.map((f) => [f.name, f.type, f.expression, f.evaluateNulls, f.description, f.tags])).toEqual([
      ['days_since', ValueType.VALUE_TYPE_DOUBLE, 'double(now - profile.last_at) / 86400000.0', false, 'days', {}],
      ['share', ValueType.VALUE_TYPE_DOUBLE, 'cart_total / profile.revenue', true, '', { a: 'b' }],
    ]);
    expect(decoded.featureViews[0]?.inputs).toEqual([]);
    expect(fromProtoDefinitions(decoded)).toEqual({ definitions: defs, problems: [] });
  });

  it('round-trips a registered on-demand view', () => {
    const registered = latestView(
      planApply(emptyRegistryState(), definitions(), { nowMillis: 5 }).next,
      'customer_now',
    )!;
    const wire = FeatureView.decode(FeatureView.encode(toProtoView(registered)).finish());
    expect(fromProtoView(wire)).toEqual(registered);
  });

  it('refuses on-demand fields on another kind, naming the view', () => {
    const wire = toProtoDefinitions(definitions());
    const odd = { ...wire, featureViews: [{ ...wire.featureViews[1]!, kind: ViewKind.VIEW_KIND_STATE }] };
    expect(fromProtoDefinitions(odd).problems).toEqual([
      {
        path: 'feature_views[0].kind',
        message: 'feature view customer_now: inputs, request_fields and on_demand need kind VIEW_KIND_ON_DEMAND',
      },
    ]);
  });
});
