/**
 * The YAML section `sql_views:` (docs/design/window-aggregations.md §2.1, §5.1), read into feature
 * views of kind `sql`; their rules (placeholders, parameters, schedule) are checked by validation
 * (validate-sql-view.ts) and their SQL by the offline store at apply.
 */
import type { Node } from 'yaml';
import type { FeatureViewDef } from '../model.js';
import { readDuration } from './yaml-event-view.js';
import { YamlReader, joinPath } from './yaml-reader.js';
import { readFeature } from './yaml-sections.js';

export const SQL_VIEW_SECTION = 'sql_views';
const VIEW_KEYS = ['name', 'entities', 'sql', 'schedule', 'features', 'ttl', 'owner', 'tags', 'description'];
const SCHEDULE_KEYS = ['every', 'delay'];

/** Reads the `sql_views` list of a file's top-level map; `add` receives each view with its item node. */
export function readSqlViews(
  r: YamlReader,
  top: Map<string, Node | null>,
  add: (view: FeatureViewDef, index: number, node: Node | null) => void,
): void {
  const items =
    r.seq(top.get(SQL_VIEW_SECTION), SQL_VIEW_SECTION, SQL_VIEW_SECTION, '[{ name: daily_revenue, sql: SELECT … }]') ??
    [];
  items.forEach((item, i) => add(readSqlView(r, item, `${SQL_VIEW_SECTION}[${i}]`), i, item));
}

function readSqlView(r: YamlReader, node: Node | null, path: string): FeatureViewDef {
  const m = r.map(node, path, 'an SQL view', VIEW_KEYS, ['name', 'entities', 'sql', 'schedule', 'features']);
  const name = r.string(m?.get('name'), joinPath(path, 'name'), 'SQL view name') ?? '';
  const what = `SQL view ${name}`;
  const entities =
    r.stringList(m?.get('entities'), joinPath(path, 'entities'), `${what}: entities`, '[category]') ?? [];
  const featuresPath = joinPath(path, 'features');
  const items = r.seq(m?.get('features'), featuresPath, `${what}: features`, '[{ name: revenue, type: double }]') ?? [];
  const features = items.map((item, i) => readFeature(r, item, `${featuresPath}[${i}]`, what));
  const schedulePath = joinPath(path, 'schedule');
  const s = r.map(m?.get('schedule'), schedulePath, `${what}: schedule`, SCHEDULE_KEYS, ['every']);
  const every = readDuration(r, s?.get('every'), `${schedulePath}.every`, `${what}: schedule every`);
  const delay = readDuration(r, s?.get('delay'), `${schedulePath}.delay`, `${what}: schedule delay`);
  const ttlNode = m?.get('ttl');
  const ttlMillis = readDuration(r, ttlNode, joinPath(path, 'ttl'), `${what}: ttl`);
  return {
    name,
    kind: 'sql',
    sql: {
      sql: r.string(m?.get('sql'), joinPath(path, 'sql'), `${what}: sql`) ?? '',
      everyMillis: every ?? 0,
      delayMillis: delay ?? 0,
      reads: [],
    },
    entities,
    features,
    ttlSeconds: ttlMillis === undefined ? 0 : ttlMillis / 1000,
    owner: r.string(m?.get('owner'), joinPath(path, 'owner'), `${what}: owner`) ?? '',
    tags: r.tags(m?.get('tags'), joinPath(path, 'tags'), what) ?? {},
    description: r.string(m?.get('description'), joinPath(path, 'description'), `${what}: description`) ?? '',
  };
}
