import { describe, expect, it } from 'vitest';
import { type Definitions } from '@tessera/core';
import { Scope as ProtoScope, ValueType as ProtoValueType } from '@tessera/proto';
import { fromProtoDefinitions, fromProtoScope, toProtoDefinitions, toProtoScope } from '../src/index.js';

const definitions: Definitions = {
  project: 'shop',
  entities: [
    {
      name: 'customer',
      joinKeys: [{ name: 'customer_id', type: 'int64' }],
      description: 'a buyer',
      tags: { team: 'a' },
    },
  ],
  featureViews: [
    {
      name: 'customer_stats',
      entities: ['customer'],
      features: [
        {
          name: 'segment',
          type: 'string',
          dimension: 0,
          constraints: { notNull: true, allowNaN: false, allowedValues: ['new', 'vip'], maxLength: 8 },
          description: '',
          tags: {},
        },
        {
          name: 'score',
          type: 'double',
          dimension: 0,
          constraints: { notNull: false, allowNaN: true, min: 0, max: 5 },
          description: 'loyalty',
          tags: { pii: 'no' },
        },
        {
          name: 'embedding',
          type: 'float_list',
          dimension: 4,
          constraints: { notNull: false, allowNaN: false },
          description: '',
          tags: {},
        },
      ],
      ttlSeconds: 86_400,
      owner: 'growth',
      tags: {},
      description: '',
    },
  ],
  featureServices: [{ name: 'churn', features: ['customer_stats:*'], description: '', owner: '', tags: {} }],
  entitySources: [],
};

describe('wire definitions', () => {
  it('reads back the definitions it wrote, without problems', () => {
    expect(fromProtoDefinitions(toProtoDefinitions(definitions))).toEqual({ definitions, problems: [] });
  });

  it('reports a feature without a type as a problem naming its path', () => {
    const wire = toProtoDefinitions(definitions);
    const first = wire.featureViews[0]?.features[0];
    if (first === undefined) throw new Error('expected a feature');
    first.type = ProtoValueType.VALUE_TYPE_UNSPECIFIED;
    expect(fromProtoDefinitions(wire).problems).toEqual([
      {
        path: 'feature_views[0].features[0].type',
        message: 'type is not set or unknown (0); expected one of the ValueType values',
      },
    ]);
  });

  it('maps scopes both ways and refuses SCOPE_UNSPECIFIED with INVALID_ARGUMENT', () => {
    for (const scope of ['read', 'write', 'admin'] as const) expect(fromProtoScope(toProtoScope(scope))).toBe(scope);
    expect(() => fromProtoScope(ProtoScope.SCOPE_UNSPECIFIED)).toThrow(/scopes: 0 is not a scope/);
  });
});
