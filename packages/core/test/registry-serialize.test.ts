import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deserializeRegistryState,
  emptyRegistryState,
  planApply,
  registryStateFromJson,
  registryStateToJson,
  serializeRegistryState,
  viewHistory,
} from '../src/index.js';
import { customerStats, definitions, feature, withStats } from './registry-fixtures.js';

const v1 = planApply(emptyRegistryState(), definitions(), { nowMillis: 1 }).next;
const v2 = planApply(v1, withStats([feature('loyalty_score', 'int64')]), { nowMillis: 2, prune: true }).next;

describe('registry state serialization', () => {
  it('round-trips through JSON text, bigints and deleted views included', () => {
    const text = serializeRegistryState(v2);
    const back = deserializeRegistryState(text);
    expect(back).toEqual(v2);
    expect(back.featureViews.get('product_stats')?.versions[0]?.features[1]?.constraints.allowedValues).toEqual([
      1n,
      9007199254740993n,
    ]);
    expect([...back.featureViews.keys()]).toEqual([...v2.featureViews.keys()]);
    expect(serializeRegistryState(back)).toBe(text);
  });

  it('keeps any int64 allowed value exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { minLength: 1, maxLength: 5 }),
        (values) => {
          const defs = withStats([
            feature('code', 'int64', {
              constraints: { notNull: false, allowNaN: false, allowedValues: [...new Set(values)] },
            }),
          ]);
          const state = planApply(emptyRegistryState(), defs, { nowMillis: 1 }).next;
          const back = registryStateFromJson(JSON.parse(JSON.stringify(registryStateToJson(state))));
          expect(back.featureViews.get('customer_stats')?.versions[0]?.features[0]?.constraints.allowedValues).toEqual([
            ...new Set(values),
          ]);
        },
      ),
    );
  });

  it('rejects data of an unknown format', () => {
    expect(() => registryStateFromJson({ format: 99 })).toThrow(/unknown format/);
  });
});

describe('viewHistory', () => {
  it('lists every version with its author, time and change lines', () => {
    const first = planApply(emptyRegistryState(), definitions(), { nowMillis: 1000 });
    const second = planApply(first.next, withStats([...customerStats.features, feature('visits', 'int64')]), {
      nowMillis: 2000,
    });
    const third = planApply(second.next, withStats([feature('loyalty_score', 'int64')]), { nowMillis: 3000 });
    const records = [
      { sequence: 1, author: 'ana', appliedAtMillis: 1000, changes: first.changes },
      { sequence: 2, author: 'bo', appliedAtMillis: 2000, changes: second.changes },
      { sequence: 3, author: 'cy', appliedAtMillis: 3000, changes: third.changes },
    ];
    const history = viewHistory(third.next, records, 'customer_stats');
    expect(history.map((h) => [h.view.version, h.author, h.appliedAtMillis])).toEqual([
      [1, 'ana', 1000],
      [2, 'cy', 3000],
    ]);
    expect(history[0]?.changes).toContain('update by bo at 1970-01-01T00:00:02.000Z');
    expect(history[0]?.changes).toContain('  feature visits: added (int64)');
    expect(history[1]?.changes).toContain('  feature segment: removed (breaking)');
    expect(viewHistory(third.next, records, 'ghost')).toEqual([]);
  });
});
