/**
 * The YAML section `on_demand_views:` (docs/design/window-aggregations.md §2.1, §5.2), read into
 * feature views of kind `on_demand`; the rules they must satisfy (inputs, types, expressions) are
 * checked by validation (validate-on-demand.ts).
 */
import type { Node } from 'yaml';
import type { FeatureDef, FeatureViewDef, OnDemandExpression, RequestFieldDef, ValueType } from '../model.js';
import { YamlReader, joinPath } from './yaml-reader.js';

export const ON_DEMAND_SECTION = 'on_demand_views';
const VIEW_KEYS = ['name', 'inputs', 'request', 'features', 'description', 'owner', 'tags'];
const REQUEST_KEYS = ['name', 'type'];
const FEATURE_KEYS = ['name', 'type', 'expr', 'evaluate_nulls', 'description', 'tags'];

/** Reads the `on_demand_views` list of a file's top-level map; `add` receives each view with its item node. */
export function readOnDemandViews(
  r: YamlReader,
  top: Map<string, Node | null>,
  add: (view: FeatureViewDef, index: number, node: Node | null) => void,
): void {
  const items =
    r.seq(top.get(ON_DEMAND_SECTION), ON_DEMAND_SECTION, ON_DEMAND_SECTION, '[{ name: customer_now, inputs: […] }]') ??
    [];
  items.forEach((item, i) => add(readOnDemandView(r, item, `${ON_DEMAND_SECTION}[${i}]`), i, item));
}

function readOnDemandView(r: YamlReader, node: Node | null, path: string): FeatureViewDef {
  const m = r.map(node, path, 'an on-demand view', VIEW_KEYS, ['name', 'inputs', 'features']);
  const name = r.string(m?.get('name'), joinPath(path, 'name'), 'on-demand view name') ?? '';
  const what = `on-demand view ${name}`;
  const inputs =
    r.stringList(m?.get('inputs'), joinPath(path, 'inputs'), `${what}: inputs`, '[purchases:last_purchase_at]') ?? [];
  const requestPath = joinPath(path, 'request');
  const requestItems = r.seq(
    m?.get('request'),
    requestPath,
    `${what}: request`,
    '[{ name: cart_total, type: double }]',
  );
  const requestFields: RequestFieldDef[] = (requestItems ?? []).map((item, i) => {
    const p = `${requestPath}[${i}]`;
    const f = r.map(item, p, `${what}: a request field`, REQUEST_KEYS, ['name', 'type']);
    return {
      name: r.string(f?.get('name'), `${p}.name`, `${what}: request field name`) ?? '',
      type: (r.string(f?.get('type'), `${p}.type`, `${what}: request field type`) ?? '') as ValueType,
    };
  });
  const featuresPath = joinPath(path, 'features');
  const items =
    r.seq(
      m?.get('features'),
      featuresPath,
      `${what}: features`,
      '[{ name: days_since, type: double, expr: "days(now - v.ts)" }]',
    ) ?? [];
  const features: FeatureDef[] = [];
  const expressions: OnDemandExpression[] = [];
  items.forEach((item, i) => {
    const p = `${featuresPath}[${i}]`;
    const f = r.map(item, p, `${what}: a feature`, FEATURE_KEYS, ['name', 'type', 'expr']);
    const featureName = r.string(f?.get('name'), `${p}.name`, `${what}: feature name`) ?? '';
    const fw = `${what}, feature ${featureName}`;
    features.push({
      name: featureName,
      type: (r.string(f?.get('type'), `${p}.type`, `${fw}: type`) ?? '') as ValueType,
      dimension: 0,
      constraints: { notNull: false, allowNaN: true },
      description: r.string(f?.get('description'), `${p}.description`, `${fw}: description`) ?? '',
      tags: r.tags(f?.get('tags'), `${p}.tags`, fw) ?? {},
    });
    expressions.push({
      expression: r.string(f?.get('expr'), `${p}.expr`, `${fw}: expr`) ?? '',
      evaluateNulls: r.boolean(f?.get('evaluate_nulls'), `${p}.evaluate_nulls`, `${fw}: evaluate_nulls`) ?? false,
    });
  });
  return {
    name,
    kind: 'on_demand',
    onDemand: { inputs, requestFields, expressions },
    entities: [],
    features,
    ttlSeconds: 0,
    owner: r.string(m?.get('owner'), joinPath(path, 'owner'), `${what}: owner`) ?? '',
    tags: r.tags(m?.get('tags'), joinPath(path, 'tags'), what) ?? {},
    description: r.string(m?.get('description'), joinPath(path, 'description'), `${what}: description`) ?? '',
  };
}
