/**
 * Readers of the list items of a repository file's sections (`entities`, `feature_views` and their
 * features, `feature_services`, `entity_sources`): each turns one YAML item into its definition,
 * reporting shape problems (unknown keys, wrong types) on the reader with the item's path. The rules
 * that span objects are checked afterwards by validation (validate.ts).
 */
import { isScalar, type Node } from 'yaml';
import type {
  Constraints,
  EntityDef,
  EntitySourceDef,
  EntitySourceParamDef,
  EntitySourceParamType,
  FeatureDef,
  FeatureServiceDef,
  FeatureViewDef,
  JoinKeySpec,
  JoinKeyType,
  SourceDef,
  ValueType,
} from '../model.js';
import { parseTtl } from './ttl.js';
import { readEventViewKeys } from './yaml-event-view.js';
import { YamlReader, joinPath, scalarText } from './yaml-reader.js';

const ENTITY_SOURCE_KEYS = ['name', 'description', 'owner', 'sql', 'params'];
const PARAM_KEYS = ['name', 'type', 'description'];
const ENTITY_KEYS = ['name', 'join_keys', 'description', 'tags'];
const JOIN_KEY_KEYS = ['name', 'type'];
const VIEW_KEYS = [
  'name',
  'kind',
  'entities',
  'features',
  'ttl',
  'ttl_seconds',
  'owner',
  'tags',
  'description',
  'source',
  'allowed_lateness',
  'future_tolerance',
  'aggregations',
];
const SOURCE_KEYS = ['kind', 'location', 'timestamp_field'];
const FEATURE_KEYS = [
  'name',
  'type',
  'dimension',
  'description',
  'tags',
  'not_null',
  'min',
  'max',
  'allowed_values',
  'max_length',
  'allow_nan',
];
const SERVICE_KEYS = ['name', 'features', 'description', 'owner', 'tags'];

/** Reads one item of `entities:`. */
export function readEntity(r: YamlReader, node: Node | null, path: string): EntityDef {
  const m = r.map(node, path, 'an entity', ENTITY_KEYS, ['name', 'join_keys']);
  const name = r.string(m?.get('name'), joinPath(path, 'name'), 'entity name') ?? '';
  const what = `entity ${name}`;
  const keysPath = joinPath(path, 'join_keys');
  const items =
    r.seq(m?.get('join_keys'), keysPath, `${what}: join_keys`, '[{ name: customer_id, type: int64 }]') ?? [];
  const joinKeys: JoinKeySpec[] = [];
  items.forEach((item, i) => {
    const keyPath = `${keysPath}[${i}]`;
    // Short form: a bare name is a string key (`join_keys: [customer_id]`).
    if (isScalar(item) && typeof item.value === 'string') {
      joinKeys.push({ name: item.value, type: 'string' });
      return;
    }
    const k = r.map(item, keyPath, `${what}: a join key`, JOIN_KEY_KEYS, ['name', 'type']);
    joinKeys.push({
      name: r.string(k?.get('name'), `${keyPath}.name`, `${what}: join key name`) ?? '',
      type: (r.string(k?.get('type'), `${keyPath}.type`, `${what}: join key type`) ?? '') as JoinKeyType,
    });
  });
  return {
    name,
    joinKeys,
    description: r.string(m?.get('description'), joinPath(path, 'description'), `${what}: description`) ?? '',
    tags: r.tags(m?.get('tags'), joinPath(path, 'tags'), what) ?? {},
  };
}

/** Reads one item of `feature_views:` (with its features, event-view keys and source). */
export function readView(r: YamlReader, node: Node | null, path: string): FeatureViewDef {
  const m = r.map(node, path, 'a feature view', VIEW_KEYS, ['name', 'entities', 'features']);
  const name = r.string(m?.get('name'), joinPath(path, 'name'), 'feature view name') ?? '';
  const what = `feature view ${name}`;
  const entities =
    r.stringList(m?.get('entities'), joinPath(path, 'entities'), `${what}: entities`, '[customer]') ?? [];
  const featuresPath = joinPath(path, 'features');
  const items =
    r.seq(m?.get('features'), featuresPath, `${what}: features`, '[{ name: clicks_7d, type: int64 }]') ?? [];
  const features = items.map((item, i) => readFeature(r, item, `${featuresPath}[${i}]`, what));

  let ttlSeconds = 0;
  const ttl = m?.get('ttl');
  const seconds = m?.get('ttl_seconds');
  if (ttl !== undefined && seconds !== undefined) {
    r.report(joinPath(path, 'ttl'), ttl, `${what}: give either ttl or ttl_seconds, not both`);
  } else if (seconds !== undefined) {
    ttlSeconds = r.number(seconds, joinPath(path, 'ttl_seconds'), `${what}: ttl_seconds`) ?? 0;
  } else if (ttl !== undefined) {
    const text = scalarText(ttl) ?? '';
    const parsed = parseTtl(text);
    if (parsed.ok) ttlSeconds = parsed.seconds;
    else r.report(joinPath(path, 'ttl'), ttl, `${what}: ${parsed.error}`);
  }

  const view: FeatureViewDef = {
    name,
    ...readEventViewKeys(r, m, path, what),
    entities,
    features,
    ttlSeconds,
    owner: r.string(m?.get('owner'), joinPath(path, 'owner'), `${what}: owner`) ?? '',
    tags: r.tags(m?.get('tags'), joinPath(path, 'tags'), what) ?? {},
    description: r.string(m?.get('description'), joinPath(path, 'description'), `${what}: description`) ?? '',
  };
  const sourceNode = m?.get('source');
  if (sourceNode === undefined || sourceNode === null) return view;
  const sourcePath = joinPath(path, 'source');
  const s = r.map(sourceNode, sourcePath, `${what}: source`, SOURCE_KEYS, ['kind']);
  const source: SourceDef = {
    kind: r.string(s?.get('kind'), `${sourcePath}.kind`, `${what}: source kind`) ?? '',
    location: r.string(s?.get('location'), `${sourcePath}.location`, `${what}: source location`) ?? '',
    timestampField:
      r.string(s?.get('timestamp_field'), `${sourcePath}.timestamp_field`, `${what}: source timestamp_field`) ??
      'event_ts',
  };
  return { ...view, source };
}

/** Reads one feature of a view (its type, constraints and strings). */
export function readFeature(r: YamlReader, node: Node | null, path: string, view: string): FeatureDef {
  const m = r.map(node, path, `${view}: a feature`, FEATURE_KEYS, ['name', 'type']);
  const name = r.string(m?.get('name'), `${path}.name`, `${view}: feature name`) ?? '';
  const what = `${view}, feature ${name}`;
  const type = (r.string(m?.get('type'), `${path}.type`, `${what}: type`) ?? '') as ValueType;
  let constraints: Constraints = {
    notNull: r.boolean(m?.get('not_null'), `${path}.not_null`, `${what}: not_null`) ?? false,
    allowNaN: r.boolean(m?.get('allow_nan'), `${path}.allow_nan`, `${what}: allow_nan`) ?? false,
  };
  const min = r.number(m?.get('min'), `${path}.min`, `${what}: min`);
  const max = r.number(m?.get('max'), `${path}.max`, `${what}: max`);
  const maxLength = r.number(m?.get('max_length'), `${path}.max_length`, `${what}: max_length`);
  if (min !== undefined) constraints = { ...constraints, min };
  if (max !== undefined) constraints = { ...constraints, max };
  if (maxLength !== undefined) constraints = { ...constraints, maxLength };
  const allowedPath = `${path}.allowed_values`;
  const allowed = r.seq(m?.get('allowed_values'), allowedPath, `${what}: allowed_values`, '[new, regular, vip]');
  if (allowed !== undefined) {
    const fractional = type === 'double' || type === 'double_list' || type === 'float_list';
    const values: (string | number | bigint)[] = [];
    allowed.forEach((item, i) => {
      const value = r.scalar(item, `${allowedPath}[${i}]`, `${what}: allowed value`);
      // YAML integers arrive as bigint (exact int64); a double feature wants numbers.
      if (value !== undefined) values.push(fractional && typeof value === 'bigint' ? Number(value) : value);
    });
    constraints = { ...constraints, allowedValues: values };
  }
  return {
    name,
    type,
    dimension: r.number(m?.get('dimension'), `${path}.dimension`, `${what}: dimension`) ?? 0,
    constraints,
    description: r.string(m?.get('description'), `${path}.description`, `${what}: description`) ?? '',
    tags: r.tags(m?.get('tags'), `${path}.tags`, what) ?? {},
  };
}

/** Reads one item of `feature_services:`. */
export function readService(r: YamlReader, node: Node | null, path: string): FeatureServiceDef {
  const m = r.map(node, path, 'a feature service', SERVICE_KEYS, ['name', 'features']);
  const name = r.string(m?.get('name'), joinPath(path, 'name'), 'feature service name') ?? '';
  const what = `feature service ${name}`;
  return {
    name,
    features:
      r.stringList(m?.get('features'), joinPath(path, 'features'), `${what}: features`, '[customer_stats:*]') ?? [],
    description: r.string(m?.get('description'), joinPath(path, 'description'), `${what}: description`) ?? '',
    owner: r.string(m?.get('owner'), joinPath(path, 'owner'), `${what}: owner`) ?? '',
    tags: r.tags(m?.get('tags'), joinPath(path, 'tags'), what) ?? {},
  };
}

/** Reads one item of `entity_sources:`. */
export function readEntitySource(r: YamlReader, node: Node | null, path: string): EntitySourceDef {
  const m = r.map(node, path, 'an entity source', ENTITY_SOURCE_KEYS, ['name', 'sql']);
  const name = r.string(m?.get('name'), joinPath(path, 'name'), 'entity source name') ?? '';
  const what = `entity source ${name}`;
  const paramsPath = joinPath(path, 'params');
  const items = r.seq(m?.get('params'), paramsPath, `${what}: params`, '[{ name: start, type: timestamp }]') ?? [];
  const params = items.map((item, i): EntitySourceParamDef => {
    const p = `${paramsPath}[${i}]`;
    const pm = r.map(item, p, `${what}: a parameter`, PARAM_KEYS, ['name', 'type']);
    return {
      name: r.string(pm?.get('name'), joinPath(p, 'name'), `${what}: parameter name`) ?? '',
      // Checked against the known types by validation, which names the allowed ones.
      type: (r.string(pm?.get('type'), joinPath(p, 'type'), `${what}: parameter type`) ?? '') as EntitySourceParamType,
      description: r.string(pm?.get('description'), joinPath(p, 'description'), `${what}: parameter description`) ?? '',
    };
  });
  return {
    name,
    description: r.string(m?.get('description'), joinPath(path, 'description'), `${what}: description`) ?? '',
    owner: r.string(m?.get('owner'), joinPath(path, 'owner'), `${what}: owner`) ?? '',
    sql: r.string(m?.get('sql'), joinPath(path, 'sql'), `${what}: sql`) ?? '',
    params,
  };
}
