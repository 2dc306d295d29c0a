import type { Definitions, EntityDef, FeatureDef, FeatureServiceDef, FeatureViewDef, ValueType } from '../src/index.js';

export function feature(name: string, type: ValueType, extra: Partial<FeatureDef> = {}): FeatureDef {
  return {
    name,
    type,
    dimension: 0,
    constraints: { notNull: false, allowNaN: false },
    description: '',
    tags: {},
    ...extra,
  };
}

export function entity(name: string, keys: [string, 'int64' | 'string'][]): EntityDef {
  return { name, joinKeys: keys.map(([n, type]) => ({ name: n, type })), description: '', tags: {} };
}

export function featureView(
  name: string,
  entities: string[],
  features: FeatureDef[],
  extra: Partial<FeatureViewDef> = {},
): FeatureViewDef {
  return { name, entities, features, ttlSeconds: 86_400, owner: 'growth', tags: {}, description: '', ...extra };
}

export function service(name: string, features: string[]): FeatureServiceDef {
  return { name, features, description: '', owner: '', tags: {} };
}

export const customer = entity('customer', [['customer_id', 'int64']]);
export const product = entity('product', [['product_id', 'string']]);

export const customerStats = featureView(
  'customer_stats',
  ['customer'],
  [
    feature('purchase_value_30d', 'double', { constraints: { notNull: false, allowNaN: false, min: 0 } }),
    feature('loyalty_score', 'double'),
    feature('segment', 'string', { constraints: { notNull: false, allowNaN: false, allowedValues: ['new', 'vip'] } }),
    feature('embedding', 'float_list', { dimension: 8 }),
  ],
);

export const productStats = featureView(
  'product_stats',
  ['product'],
  [
    feature('price', 'double'),
    feature('tier', 'int64', {
      constraints: { notNull: false, allowNaN: false, allowedValues: [1, 9007199254740993n] },
    }),
  ],
);

export function definitions(extra: Partial<Definitions> = {}): Definitions {
  return {
    project: 'shop',
    entities: [customer, product],
    featureViews: [customerStats, productStats],
    featureServices: [service('checkout_model', ['customer_stats:*', 'product_stats:price'])],
    ...extra,
  };
}

/** customer_stats with its features replaced. */
export function withStats(features: FeatureDef[], extra: Partial<FeatureViewDef> = {}): Definitions {
  return definitions({
    featureViews: [{ ...customerStats, features, ...extra }, productStats],
    featureServices: [service('checkout_model', ['product_stats:price'])],
  });
}

/** The error `fn` throws, for asserting its code and message. */
export function thrown(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected an error');
}
