import { describe, expect, it } from 'vitest';
import { emptyRegistryState, latestView, planApply, type Definitions, type FeatureViewDef } from '@tessera/core';
import { AggregationFunction, AggregationState, FeatureView, ViewKind, ValueType } from '@tessera/proto';
import { fromProtoDefinitions, fromProtoView, toProtoDefinitions, toProtoView } from '../src/index.js';

const purchases: FeatureViewDef = {
  name: 'purchases',
  kind: 'events',
  events: { allowedLatenessMillis: 7_200_000, futureToleranceMillis: 0 },
  entities: ['customer'],
  features: [
    {
      name: 'amount',
      type: 'double',
      dimension: 0,
      constraints: { notNull: false, allowNaN: false },
      description: '',
      tags: {},
    },
    {
      name: 'product_id',
      type: 'string',
      dimension: 0,
      constraints: { notNull: true, allowNaN: false },
      description: '',
      tags: {},
    },
  ],
  aggregations: [
    {
      name: 'revenue_30d',
      function: 'sum',
      input: 'amount',
      windowMillis: 30 * 86_400_000,
      hopMillis: 0,
      n: 0,
      precision: 0,
      groupBy: '',
      description: 'money',
      tags: { team: 'growth' },
    },
    {
      name: 'last_products',
      function: 'last_n',
      input: 'product_id',
      windowMillis: 0,
      hopMillis: 0,
      n: 5,
      precision: 0,
      groupBy: '',
      description: '',
      tags: {},
    },
    {
      name: 'distinct_products_1d',
      function: 'approx_distinct',
      input: 'product_id',
      windowMillis: 86_400_000,
      hopMillis: 15 * 60_000,
      n: 0,
      precision: 14,
      groupBy: '',
      description: '',
      tags: {},
    },
  ],
  ttlSeconds: 0,
  owner: '',
  tags: {},
  description: '',
};

const { kind: _kind, events: _events, aggregations: _aggregations, ...plain } = purchases;

const definitions: Definitions = {
  project: 'shop',
  entities: [{ name: 'customer', joinKeys: [{ name: 'customer_id', type: 'int64' }], description: '', tags: {} }],
  featureViews: [purchases, { ...plain, name: 'plain' }],
  featureServices: [],
  entitySources: [],
};

describe('wire form of event views and aggregations', () => {
  it('reads back the definitions it wrote, through the binary encoding', () => {
    const wire = toProtoDefinitions(definitions);
    const bytes = FeatureView.encode(wire.featureViews[0]!).finish();
    const decoded = { ...wire, featureViews: [FeatureView.decode(bytes), wire.featureViews[1]!] };
    expect(decoded.featureViews[0]).toMatchObject({
      kind: ViewKind.VIEW_KIND_EVENTS,
      events: { allowedLatenessMillis: 7_200_000n, futureToleranceMillis: 0n },
    });
    expect(decoded.featureViews[0]?.aggregations.map((a) => a.function)).toEqual([
      AggregationFunction.AGGREGATION_FUNCTION_SUM,
      AggregationFunction.AGGREGATION_FUNCTION_LAST_N,
      AggregationFunction.AGGREGATION_FUNCTION_APPROX_DISTINCT,
    ]);
    expect(decoded.featureViews[1]?.kind).toBe(ViewKind.VIEW_KIND_STATE);
    expect(fromProtoDefinitions(decoded)).toEqual({ definitions, problems: [] });
  });

  it('carries the registry-assigned fields of a registered view both ways', () => {
    const registered = latestView(planApply(emptyRegistryState(), definitions, { nowMillis: 5 }).next, 'purchases')!;
    const wire = FeatureView.decode(FeatureView.encode(toProtoView(registered)).finish());
    expect(wire.aggregations.map((a) => [a.name, a.hopMillis, a.type, a.precision, a.specVersion, a.state])).toEqual([
      ['revenue_30d', 86_400_000n, ValueType.VALUE_TYPE_DOUBLE, 0, 1, AggregationState.AGGREGATION_STATE_READY],
      ['last_products', 0n, ValueType.VALUE_TYPE_STRING_LIST, 0, 1, AggregationState.AGGREGATION_STATE_READY],
      ['distinct_products_1d', 900_000n, ValueType.VALUE_TYPE_INT64, 14, 1, AggregationState.AGGREGATION_STATE_READY],
    ]);
    expect(fromProtoView(wire)).toEqual(registered);
  });

  it('defaults unset event options and reports unknown enums as problems', () => {
    const wire = toProtoDefinitions(definitions);
    const view = wire.featureViews[0]!;
    const odd = {
      ...wire,
      featureViews: [
        {
          ...view,
          kind: 7 as ViewKind,
          events: {},
          aggregations: [{ ...view.aggregations[0]!, function: AggregationFunction.AGGREGATION_FUNCTION_UNSPECIFIED }],
        },
      ],
    };
    const { definitions: read, problems } = fromProtoDefinitions(odd);
    expect(read.featureViews[0]?.events).toEqual({ allowedLatenessMillis: 3_600_000, futureToleranceMillis: 60_000 });
    expect(problems.map((p) => p.path)).toEqual(['feature_views[0].kind', 'feature_views[0].aggregations[0].function']);
  });
});
