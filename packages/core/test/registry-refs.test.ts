import { describe, expect, it } from 'vitest';
import {
  FeatureRefCache,
  emptyRegistryState,
  featureRefsKey,
  parseFeatureRef,
  parseViewRef,
  planApply,
  resolveFeatureRefs,
  type RegistryState,
} from '../src/index.js';
import { customerStats, definitions, feature, thrown, withStats } from './registry-fixtures.js';

const v1 = planApply(emptyRegistryState(), definitions(), { nowMillis: 1 }).next;
// Version 2 of customer_stats: loyalty_score becomes int64 and segment is dropped.
const v2: RegistryState = planApply(
  v1,
  withStats([
    customerStats.features[0] ?? feature('x', 'int64'),
    feature('loyalty_score', 'int64'),
    feature('embedding', 'float_list', { dimension: 8 }),
  ]),
  { nowMillis: 2 },
).next;

describe('parseViewRef and parseFeatureRef', () => {
  it('parses latest and pinned refs', () => {
    expect(parseViewRef('customer_stats')).toEqual({ view: 'customer_stats', version: 0 });
    expect(parseViewRef('customer_stats@2')).toEqual({ view: 'customer_stats', version: 2 });
    expect(parseFeatureRef('customer_stats@2:*')).toEqual({ view: 'customer_stats', version: 2, feature: '*' });
    expect(parseFeatureRef('customer_stats:loyalty_score')).toEqual({
      view: 'customer_stats',
      version: 0,
      feature: 'loyalty_score',
    });
  });

  it('rejects malformed refs with INVALID_ARGUMENT', () => {
    for (const text of ['customer_stats@0', 'customer_stats@x', 'Customer', 'a@1@2']) {
      expect(thrown(() => parseViewRef(text)).code).toBe('INVALID_ARGUMENT');
    }
    for (const text of ['customer_stats', 'customer_stats:', ':x', 'a:b:c', 'a@:b', 'a:B']) {
      const error = thrown(() => parseFeatureRef(text));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain(`"${text}"`);
    }
  });
});

describe('resolveFeatureRefs', () => {
  it('groups features by view version in request order, with storage indexes', () => {
    const resolved = resolveFeatureRefs(v2, {
      refs: [
        'product_stats:price',
        'customer_stats:loyalty_score',
        'customer_stats@1:segment',
        'customer_stats:purchase_value_30d',
      ],
    });
    expect(resolved.sequence).toBe(2);
    expect(resolved.views.map((v) => [v.view.name, v.view.version, v.field, v.featureIndexes, v.refs])).toEqual([
      ['product_stats', 1, '2.1', [0], ['product_stats@1:price']],
      ['customer_stats', 2, '1.2', [1, 0], ['customer_stats@2:loyalty_score', 'customer_stats@2:purchase_value_30d']],
      ['customer_stats', 1, '1.1', [2], ['customer_stats@1:segment']],
    ]);
    expect(resolved.features.map((f) => [f.viewSlot, f.featureIndex, f.ref, f.name, f.type])).toEqual([
      [0, 0, 'product_stats@1:price', 'product_stats:price', 'double'],
      [1, 1, 'customer_stats@2:loyalty_score', 'customer_stats:loyalty_score', 'int64'],
      [2, 2, 'customer_stats@1:segment', 'customer_stats@1:segment', 'string'],
      [1, 0, 'customer_stats@2:purchase_value_30d', 'customer_stats:purchase_value_30d', 'double'],
    ]);
  });

  it('expands view:* and view@n:* in storage order', () => {
    const latest = resolveFeatureRefs(v2, { refs: ['customer_stats:*'] });
    expect(latest.features.map((f) => f.ref)).toEqual([
      'customer_stats@2:purchase_value_30d',
      'customer_stats@2:loyalty_score',
      'customer_stats@2:embedding',
    ]);
    const pinned = resolveFeatureRefs(v2, { refs: ['customer_stats@1:*'] });
    expect(pinned.features.map((f) => f.name)).toEqual([
      'customer_stats@1:purchase_value_30d',
      'customer_stats@1:loyalty_score',
      'customer_stats@1:segment',
      'customer_stats@1:embedding',
    ]);
  });

  it('resolves a feature service to its refs', () => {
    const resolved = resolveFeatureRefs(v1, { featureService: 'checkout_model' });
    expect(resolved.features.map((f) => f.ref)).toEqual([
      'customer_stats@1:purchase_value_30d',
      'customer_stats@1:loyalty_score',
      'customer_stats@1:segment',
      'customer_stats@1:embedding',
      'product_stats@1:price',
    ]);
  });

  it('names the view version and the missing feature in NOT_FOUND errors', () => {
    const cases: [string, string][] = [
      ['customer_stats:nope', 'Unknown feature ref "customer_stats:nope": view customer_stats@2 has no feature nope'],
      ['customer_stats:segment', 'view customer_stats@2 has no feature segment'],
      ['customer_stats@3:segment', 'feature view customer_stats has no version 3 (versions 1..2)'],
      ['ghost:x', 'Unknown feature ref "ghost:x": no feature view ghost'],
    ];
    for (const [ref, message] of cases) {
      const error = thrown(() => resolveFeatureRefs(v2, { refs: [ref] }));
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toContain(message);
    }
    const unknownService = thrown(() => resolveFeatureRefs(v2, { featureService: 'ghost' }));
    expect(unknownService.code).toBe('NOT_FOUND');
    expect(unknownService.message).toContain('Unknown feature service "ghost"');
  });

  it('rejects malformed, repeated, empty and ambiguous requests with INVALID_ARGUMENT', () => {
    expect(thrown(() => resolveFeatureRefs(v2, { refs: ['customer_stats'] })).code).toBe('INVALID_ARGUMENT');
    const repeated = thrown(() =>
      resolveFeatureRefs(v2, { refs: ['customer_stats:*', 'customer_stats@2:loyalty_score'] }),
    );
    expect(repeated.code).toBe('INVALID_ARGUMENT');
    expect(repeated.message).toContain('customer_stats@2:loyalty_score again');
    expect(thrown(() => resolveFeatureRefs(v2, {})).code).toBe('INVALID_ARGUMENT');
    expect(
      thrown(() => resolveFeatureRefs(v2, { refs: ['product_stats:price'], featureService: 'checkout_model' })).code,
    ).toBe('INVALID_ARGUMENT');
  });

  it('caches one resolution per distinct request and state', () => {
    const cache = new FeatureRefCache({ maxEntries: 2 });
    const input = { refs: ['customer_stats:loyalty_score'] };
    const first = cache.resolve(v1, input);
    expect(cache.resolve(v1, { refs: ['customer_stats:loyalty_score'] })).toBe(first);
    const afterApply = cache.resolve(v2, input);
    expect(afterApply).not.toBe(first);
    expect(afterApply.features[0]?.type).toBe('int64');
    expect(featureRefsKey({ refs: ['a:b', 'c:d'] })).not.toBe(featureRefsKey({ refs: ['a:b,c:d'] }));
    expect(featureRefsKey({ featureService: 's' })).not.toBe(featureRefsKey({ refs: ['s'] }));
  });
});
