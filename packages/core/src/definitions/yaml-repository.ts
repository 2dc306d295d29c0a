/**
 * Loads a feature repository: a folder of YAML files, each holding any of `project:`,
 * `entities:`, `feature_views:`, `feature_services:` and `entity_sources:`. The format is described in
 * packages/core/README.md. Every problem of every file is reported at once, with its file, its
 * path (`feature_views[0].features[2].type`), its line and the rule it breaks.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import type { Problem } from '../errors.js';
import type {
  Constraints,
  Definitions,
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
import { ON_DEMAND_SECTION, readOnDemandViews } from './yaml-on-demand-view.js';
import { validateDefinitionsAt, type DefinitionSection } from './validate.js';
import { YamlReader, joinPath, scalarText } from './yaml-reader.js';

/** One file of a repository: its path (as shown in problems) and its text. */
export interface RepositoryFile {
  readonly path: string;
  readonly text: string;
}

/** Definitions when the repository is valid; otherwise every problem found. */
export interface ParseRepositoryResult {
  readonly definitions?: Definitions;
  readonly problems: Problem[];
}

/** Where an object of the combined definitions came from. */
interface Origin {
  readonly reader: YamlReader;
  readonly index: number;
  readonly node: Node | null;
  readonly section?: string; // as written, when not the combined section (on_demand_views)
}

const TOP_KEYS = ['project', 'entities', 'feature_views', 'feature_services', 'entity_sources', ON_DEMAND_SECTION];
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

/**
 * Parses and validates the YAML files of a repository. Returns definitions only when there are
 * no problems at all.
 */
export function parseRepository(files: readonly RepositoryFile[]): ParseRepositoryResult {
  const problems: Problem[] = [];
  const entities: EntityDef[] = [];
  const views: FeatureViewDef[] = [];
  const services: FeatureServiceDef[] = [];
  const sources: EntitySourceDef[] = [];
  const origins: Record<DefinitionSection, Origin[]> = {
    entities: [],
    feature_views: [],
    feature_services: [],
    entity_sources: [],
  };
  const projects: { name: string; reader: YamlReader; node: Node | null }[] = [];

  if (files.length === 0) {
    problems.push({ path: '', message: 'the repository has no YAML files' });
  }
  for (const file of files) {
    const lines = new LineCounter();
    const doc = parseDocument(file.text, { intAsBigInt: true, lineCounter: lines, prettyErrors: false });
    const reader = new YamlReader(file.path, doc, lines);
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const pos = lines.linePos(error.pos[0]);
        const message = error.message.split('\n')[0] ?? error.message;
        problems.push({
          file: file.path,
          path: `line ${pos.line}, column ${pos.col}`,
          message: `YAML syntax error: ${message}`,
        });
      }
      continue;
    }
    const root = reader.resolve(doc.contents);
    if (root === null || (isScalar(root) && root.value === null)) continue; // an empty file
    const top = reader.map(root, '', 'a repository file', TOP_KEYS);
    if (top !== undefined) {
      const project = top.get('project');
      if (project !== undefined) {
        const name = reader.string(project, 'project', 'project');
        if (name !== undefined) projects.push({ name, reader, node: project });
      }
      const read = <T>(
        section: DefinitionSection,
        example: string,
        into: T[],
        convert: (n: Node | null, p: string) => T,
      ) => {
        const items = reader.seq(top.get(section), section, section, example) ?? [];
        items.forEach((item, i) => {
          into.push(convert(item, `${section}[${i}]`));
          origins[section].push({ reader, index: i, node: item });
        });
      };
      read('entities', '[{ name: customer, join_keys: [customer_id] }]', entities, (n, p) => readEntity(reader, n, p));
      read('feature_views', '[{ name: customer_stats, ... }]', views, (n, p) => readView(reader, n, p));
      read('feature_services', '[{ name: checkout_model, features: [customer_stats:*] }]', services, (n, p) =>
        readService(reader, n, p),
      );
      read('entity_sources', '[{ name: recent_orders, sql: SELECT …, params: [...] }]', sources, (n, p) =>
        readEntitySource(reader, n, p),
      );
      readOnDemandViews(reader, top, (view, index, node) => {
        views.push(view);
        origins.feature_views.push({ reader, index, node, section: ON_DEMAND_SECTION });
      });
    }
    problems.push(...reader.problems);
  }

  if (projects.length === 0 && files.length > 0) {
    problems.push({ path: 'project', message: 'no file names the project; add `project: <name>` to exactly one file' });
  }
  const first = projects[0];
  for (const extra of projects.slice(1)) {
    extra.reader.report(
      'project',
      extra.node,
      `the project is already named in ${first?.reader.file ?? '?'}; name it in exactly one file`,
    );
    problems.push(...extra.reader.problems.splice(0));
  }

  const defs: Definitions = {
    project: first?.name ?? '',
    entities,
    featureViews: views,
    featureServices: services,
    entitySources: sources,
  };
  const locate = (section: DefinitionSection, index: number): string => {
    const origin = origins[section][index];
    if (origin === undefined) return `${section}[${index}]`;
    const line = origin.reader.lineOf(origin.node);
    return `${origin.reader.file} ${origin.section ?? section}[${origin.index}]${line === undefined ? '' : ` (line ${line})`}`;
  };
  const seen = new Set(problems.map((p) => `${p.file ?? ''}\u0000${p.path}`));
  for (const problem of validateDefinitionsAt(defs, locate)) {
    const mapped = mapProblem(problem, origins, first);
    const key = `${mapped.file ?? ''}\u0000${mapped.path}`;
    // A shape problem on the same spot already says what is wrong; do not repeat it.
    if (!seen.has(key) && (projects.length > 0 || mapped.path !== 'project')) {
      seen.add(key);
      problems.push(mapped);
    }
  }
  return problems.length === 0 ? { definitions: defs, problems } : { problems };
}

const SECTION_PATH = /^(entities|feature_views|feature_services|entity_sources)\[(\d+)\](.*)$/;

/** Maps a problem on the combined definitions back to its file, local index and line. */
function mapProblem(
  problem: Problem,
  origins: Record<DefinitionSection, Origin[]>,
  project: { reader: YamlReader; node: Node | null } | undefined,
): Problem {
  if (problem.path === 'project' && project !== undefined) {
    const line = project.reader.lineOf(project.node);
    return { file: project.reader.file, path: 'project', message: withLine(problem.message, line) };
  }
  const match = SECTION_PATH.exec(problem.path);
  const origin = match ? origins[match[1] as DefinitionSection][Number(match[2])] : undefined;
  if (match === null || origin === undefined) return problem;
  const { node, path } = walk(origin.reader, origin.node, match[3] ?? '');
  return {
    file: origin.reader.file,
    path: `${origin.section ?? match[1]}[${origin.index}]${path}`,
    message: withLine(problem.message, origin.reader.lineOf(node)),
  };
}

function withLine(message: string, line: number | undefined): string {
  return line === undefined ? message : `${message} (line ${line})`;
}

/** Follows `.key` / `[i]` segments as far as the YAML goes; renames ttl_seconds to the ttl the user wrote. */
function walk(reader: YamlReader, start: Node | null, rest: string): { node: Node | null; path: string } {
  let node = start;
  let path = '';
  for (const segment of rest.match(/\.[^.[]+|\[\d+\]/g) ?? []) {
    let next: Node | null | undefined;
    let written = segment;
    if (segment.startsWith('[')) {
      next = isSeq(node) ? reader.resolve(node.items[Number(segment.slice(1, -1))]) : undefined;
    } else if (isMap(node)) {
      let key = segment.slice(1);
      if (key === 'ttl_seconds' && !node.has('ttl_seconds') && node.has('ttl')) key = 'ttl';
      written = `.${key}`;
      next = reader.resolve(node.get(key, true));
    }
    path += written;
    if (next !== undefined && next !== null) node = next;
  }
  return { node, path };
}

function readEntity(r: YamlReader, node: Node | null, path: string): EntityDef {
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

function readView(r: YamlReader, node: Node | null, path: string): FeatureViewDef {
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

function readFeature(r: YamlReader, node: Node | null, path: string, view: string): FeatureDef {
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

function readService(r: YamlReader, node: Node | null, path: string): FeatureServiceDef {
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

function readEntitySource(r: YamlReader, node: Node | null, path: string): EntitySourceDef {
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
