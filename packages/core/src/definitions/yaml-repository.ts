/**
 * Loads a feature repository: a folder of YAML files, each holding any of `project:`,
 * `entities:`, `feature_views:`, `feature_services:` and `entity_sources:`. The format is described in
 * packages/core/README.md. Every problem of every file is reported at once, with its file, its
 * path (`feature_views[0].features[2].type`), its line and the rule it breaks.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import type { Problem } from '../errors.js';
import type { Definitions, EntityDef, EntitySourceDef, FeatureServiceDef, FeatureViewDef } from '../model.js';
import { ON_DEMAND_SECTION, readOnDemandViews } from './yaml-on-demand-view.js';
import { readEntity, readEntitySource, readService, readView } from './yaml-sections.js';
import { SQL_VIEW_SECTION, readSqlViews } from './yaml-sql-view.js';
import { validateDefinitionsAt, type DefinitionSection } from './validate.js';
import { YamlReader } from './yaml-reader.js';

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
  readonly section?: string; // as written, when not the combined section (on_demand_views, sql_views)
}

const TOP_KEYS = [
  'project',
  'entities',
  'feature_views',
  'feature_services',
  'entity_sources',
  ON_DEMAND_SECTION,
  SQL_VIEW_SECTION,
];
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
      readSqlViews(reader, top, (view, index, node) => {
        views.push(view);
        origins.feature_views.push({ reader, index, node, section: SQL_VIEW_SECTION });
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
