import { describe, expect, it } from 'vitest';
import {
  deserializeRegistryState,
  emptyRegistryState,
  latestView,
  planApply,
  serializeRegistryState,
  validateDefinitions,
  type Change,
  type Definitions,
  type EntitySourceDef,
  type RegistryState,
} from '../src/index.js';
import {
  customer,
  customerStats,
  definitions,
  entity,
  feature,
  productStats,
  service,
  thrown,
  withStats,
} from './registry-fixtures.js';

const T0 = 1_700_000_000_000;

function apply(state: RegistryState, defs: Definitions, prune = false, nowMillis = T0 + state.sequence * 1000) {
  expect(validateDefinitions(defs)).toEqual([]);
  return planApply(state, defs, { nowMillis, prune });
}

function changeOf(changes: readonly Change[], name: string): Change {
  const found = changes.find((c) => c.name === name);
  expect(found, `no change for ${name}`).toBeDefined();
  return found as Change;
}

const base = apply(emptyRegistryState(), definitions()).next;
const [purchaseValue, loyalty, segment, embedding] = customerStats.features as [
  (typeof customerStats.features)[0],
  (typeof customerStats.features)[0],
  (typeof customerStats.features)[0],
  (typeof customerStats.features)[0],
];

describe('planApply', () => {
  it('creates every object of a first apply, views at version 1 with fresh ids', () => {
    const plan = apply(emptyRegistryState(), definitions());
    expect(plan.changes.map((c) => [c.objectType, c.name, c.kind, c.fromVersion, c.toVersion])).toEqual([
      ['entity', 'customer', 'create', 0, 0],
      ['entity', 'product', 'create', 0, 0],
      ['feature_view', 'customer_stats', 'create', 0, 1],
      ['feature_view', 'product_stats', 'create', 0, 1],
      ['feature_service', 'checkout_model', 'create', 0, 0],
    ]);
    expect(plan.next.sequence).toBe(1);
    expect(plan.next.project).toBe('shop');
    const stats = latestView(plan.next, 'customer_stats');
    expect(stats).toMatchObject({
      id: 1,
      version: 1,
      joinKeys: [{ name: 'customer_id', type: 'int64' }],
      createdAtMillis: T0,
    });
    expect(latestView(plan.next, 'product_stats')?.id).toBe(2);
    expect(plan.next.nextViewId).toBe(3);
    // int64 allowed values are normalised to bigint.
    expect(latestView(plan.next, 'product_stats')?.features[1]?.constraints.allowedValues).toEqual([
      1n,
      9007199254740993n,
    ]);
  });

  it('changes nothing when the same definitions are applied again', () => {
    const plan = apply(base, definitions());
    expect(plan.changed).toBe(false);
    expect(plan.next).toBe(base);
    expect(plan.changes.every((c) => c.kind === 'unchanged')).toBe(true);
  });

  it('is pure: the input state is not modified (a dry run just drops the result)', () => {
    const before = serializeRegistryState(base);
    apply(base, withStats([loyalty]));
    expect(serializeRegistryState(base)).toBe(before);
    expect(latestView(base, 'customer_stats')?.version).toBe(1);
  });

  it('keeps the version for compatible changes and describes them', () => {
    const added = feature('visits_7d', 'int64');
    const plan = apply(
      base,
      withStats(
        [
          purchaseValue,
          { ...loyalty, constraints: { notNull: true, allowNaN: false, max: 5 }, description: 'how loyal' },
          segment,
          embedding,
          added,
        ],
        {
          ttlSeconds: 7 * 86_400,
          owner: 'ml',
          tags: { team: 'ml' },
          description: 'new',
          source: { kind: 'push', location: 'x', timestampField: 'ts' },
        },
      ),
    );
    const change = changeOf(plan.changes, 'customer_stats');
    expect(change).toMatchObject({ kind: 'update', fromVersion: 1, toVersion: 1 });
    expect(change.details).toEqual([
      'feature loyalty_score: constraints (none) -> not_null, max 5',
      'feature loyalty_score: description changed',
      'feature visits_7d: added (int64)',
      'ttl: 1d -> 1w',
      'owner: "growth" -> "ml"',
      'description changed',
      'tags: {} -> {team: ml}',
      'source: (none) -> push "x" at ts',
    ]);
    const view = latestView(plan.next, 'customer_stats');
    expect(view).toMatchObject({
      id: 1,
      version: 1,
      ttlSeconds: 604_800,
      createdAtMillis: T0,
      updatedAtMillis: T0 + 1000,
    });
    expect(plan.next.featureViews.get('customer_stats')?.versions).toHaveLength(1);
  });

  it('keeps storage order when the YAML reorders features, and appends new ones', () => {
    const plan = apply(base, withStats([feature('visits_7d', 'int64'), embedding, segment, loyalty, purchaseValue]));
    expect(changeOf(plan.changes, 'customer_stats').kind).toBe('update');
    expect(latestView(plan.next, 'customer_stats')?.features.map((f) => f.name)).toEqual([
      'purchase_value_30d',
      'loyalty_score',
      'segment',
      'embedding',
      'visits_7d',
    ]);
    const reorderedOnly = apply(base, withStats([embedding, segment, loyalty, purchaseValue]));
    expect(changeOf(reorderedOnly.changes, 'customer_stats').kind).toBe('unchanged');
  });

  const breaking: [string, Definitions, string][] = [
    [
      'a type change',
      withStats([purchaseValue, { ...loyalty, type: 'int64' }, segment, embedding]),
      'feature loyalty_score: type double -> int64 (breaking)',
    ],
    [
      'a dimension change',
      withStats([purchaseValue, loyalty, segment, { ...embedding, dimension: 16 }]),
      'feature embedding: dimension 8 -> 16 (breaking)',
    ],
    ['a removed feature', withStats([purchaseValue, loyalty, embedding]), 'feature segment: removed (breaking)'],
    [
      'changed entities',
      withStats([purchaseValue, loyalty, segment, embedding], { entities: ['customer', 'product'] }),
      'entities: customer -> customer, product (breaking)',
    ],
    [
      "a changed entity's join keys",
      definitions({
        entities: [entity('customer', [['customer_id', 'string']]), definitions().entities[1] ?? customer],
      }),
      'join keys: customer_id int64 -> customer_id string (breaking)',
    ],
  ];
  for (const [what, defs, line] of breaking) {
    it(`creates version 2 for ${what}, keeping version 1 and the id`, () => {
      const plan = apply(base, defs);
      const change = changeOf(plan.changes, 'customer_stats');
      expect(change).toMatchObject({ kind: 'new_version', fromVersion: 1, toVersion: 2 });
      expect(change.details).toContain(line);
      const lineage = plan.next.featureViews.get('customer_stats');
      expect(lineage?.versions.map((v) => [v.id, v.version])).toEqual([
        [1, 1],
        [1, 2],
      ]);
      expect(lineage?.versions[0]).toBe(latestView(base, 'customer_stats'));
      expect(plan.next.nextViewId).toBe(base.nextViewId);
    });
  }

  it('gives a new version the definition order and records the entity change', () => {
    const defs = definitions({
      entities: [entity('customer', [['customer_id', 'string']]), definitions().entities[1] ?? customer],
    });
    const plan = apply(base, defs);
    expect(changeOf(plan.changes, 'customer')).toMatchObject({
      objectType: 'entity',
      kind: 'update',
      details: ['join keys: customer_id int64 -> customer_id string (breaking for its feature views)'],
    });
    expect(latestView(plan.next, 'customer_stats')?.joinKeys).toEqual([{ name: 'customer_id', type: 'string' }]);
    expect(changeOf(plan.changes, 'product_stats').kind).toBe('unchanged');
    const reordered = apply(base, withStats([loyalty, purchaseValue, segment]));
    expect(latestView(reordered.next, 'customer_stats')?.features.map((f) => f.name)).toEqual([
      'loyalty_score',
      'purchase_value_30d',
      'segment',
    ]);
  });

  it('bumps views missing from the definitions (no prune) when their entity changes keys', () => {
    const defs: Definitions = {
      project: 'shop',
      entities: [entity('customer', [['customer_id', 'string']])],
      featureViews: [],
      featureServices: [],
    };
    const plan = apply(base, defs);
    expect(changeOf(plan.changes, 'customer_stats')).toMatchObject({ kind: 'new_version', toVersion: 2 });
    expect(plan.changes.some((c) => c.name === 'product_stats')).toBe(false);
    expect(latestView(plan.next, 'product_stats')?.version).toBe(1);
  });

  it('keeps absent objects without prune and deletes them with prune', () => {
    const only: Definitions = {
      project: 'shop',
      entities: [customer],
      featureViews: [customerStats],
      featureServices: [],
    };
    const kept = apply(base, only);
    expect(kept.changed).toBe(false);
    expect(latestView(kept.next, 'product_stats')).toBeDefined();

    const pruned = apply(base, only, true);
    expect(pruned.changes.filter((c) => c.kind === 'delete').map((c) => [c.objectType, c.name, c.fromVersion])).toEqual(
      [
        ['entity', 'product', 0],
        ['feature_view', 'product_stats', 1],
        ['feature_service', 'checkout_model', 0],
      ],
    );
    expect(latestView(pruned.next, 'product_stats')).toBeUndefined();
    expect(pruned.next.featureViews.get('product_stats')?.versions).toHaveLength(1); // kept for History
    expect(pruned.next.entities.has('product')).toBe(false);

    // Re-creating continues the id and the version numbers, so no old field or table is reused.
    const again = apply(pruned.next, definitions());
    expect(changeOf(again.changes, 'product_stats')).toMatchObject({ kind: 'create', fromVersion: 0, toVersion: 2 });
    expect(latestView(again.next, 'product_stats')).toMatchObject({ id: 2, version: 2 });
  });

  it('rejects definitions of another project', () => {
    expect(() => apply(base, definitions({ project: 'other' }))).toThrow(/holds project "shop"/);
  });

  it('rejects a feature service that pins a version that does not exist', () => {
    const defs = definitions({ featureServices: [service('pinned', ['customer_stats@3:loyalty_score'])] });
    const error = thrown(() => apply(base, defs));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/versions 1\.\.1/);
    const ok = definitions({ featureServices: [service('pinned', ['customer_stats@1:segment'])] });
    expect(apply(base, ok).changes.at(-1)).toMatchObject({ name: 'pinned', kind: 'create' });
  });

  it('accepts a service pinned to a feature that only an older version has', () => {
    const v2 = apply(base, withStats([purchaseValue, loyalty])).next;
    const defs = withStats([purchaseValue, loyalty]);
    const pinned = { ...defs, featureServices: [service('legacy', ['customer_stats@1:segment'])] };
    expect(apply(v2, pinned).changes.at(-1)).toMatchObject({ name: 'legacy', kind: 'create' });
    const error = thrown(() =>
      apply(v2, { ...defs, featureServices: [service('legacy', ['customer_stats@2:segment'])] }),
    );
    expect(error.message).toMatch(/customer_stats@2 has no feature segment/);
  });

  it('updates a feature service and describes the difference', () => {
    const defs = definitions({
      featureServices: [service('checkout_model', ['customer_stats:*', 'product_stats:tier'])],
    });
    expect(changeOf(apply(base, defs).changes, 'checkout_model')).toMatchObject({
      kind: 'update',
      details: ['features added: product_stats:tier', 'features removed: product_stats:price'],
    });
  });

  it('leaves other views alone', () => {
    const plan = apply(base, withStats([loyalty]));
    expect(latestView(plan.next, 'product_stats')).toBe(latestView(base, 'product_stats'));
    expect(productStats.name).toBe('product_stats');
  });
});

describe('entity sources in an apply', () => {
  const source = (name: string, sql = 'SELECT customer_id, event_ts FROM tessera.t'): EntitySourceDef => ({
    name,
    description: '',
    owner: 'data',
    sql,
    params: [{ name: 'start', type: 'timestamp', description: '' }],
  });

  it('creates, keeps, updates and prunes sources, and stores them through serialization', () => {
    const created = apply(base, { ...definitions(), entitySources: [source('a'), source('b')] });
    expect(created.changes.filter((c) => c.objectType === 'entity_source').map((c) => `${c.name}:${c.kind}`)).toEqual([
      'a:create',
      'b:create',
    ]);
    expect(changeOf(created.changes, 'a').details).toEqual(['params: start timestamp']);
    const state = deserializeRegistryState(serializeRegistryState(created.next));
    expect([...state.entitySources.values()]).toEqual([source('a'), source('b')]);
    const same = apply(state, { ...definitions(), entitySources: [source('a'), source('b')] });
    expect(same.changed).toBe(false);
    const edited = apply(state, { ...definitions(), entitySources: [source('a', 'SELECT 1')] }, true);
    expect(changeOf(edited.changes, 'a')).toMatchObject({ kind: 'update', details: ['sql changed'] });
    expect(changeOf(edited.changes, 'b')).toMatchObject({ kind: 'delete', details: ['deleted'] });
    expect([...edited.next.entitySources.keys()]).toEqual(['a']);
    // Without prune a source missing from the definitions stays.
    expect([...apply(state, definitions()).next.entitySources.keys()]).toEqual(['a', 'b']);
  });

  it('reads a state stored before entity sources existed as having none', () => {
    const stored = JSON.parse(serializeRegistryState(base)) as Record<string, unknown>;
    delete stored['entitySources'];
    expect(deserializeRegistryState(JSON.stringify(stored)).entitySources.size).toBe(0);
  });
});
