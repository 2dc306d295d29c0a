/**
 * The YAML keys of event views (`kind`, `allowed_lateness`, `future_tolerance`, `aggregations`),
 * read for the repository loader; the rules they must satisfy are checked by validation.
 */
import type { Node } from 'yaml';
import type { AggregationDef, AggregationFunction, FeatureViewDef, ViewKind } from '../model.js';
import { DEFAULT_ALLOWED_LATENESS_MILLIS, DEFAULT_FUTURE_TOLERANCE_MILLIS } from './aggregation-rules.js';
import { parseTtl } from './ttl.js';
import { YamlReader, joinPath, scalarText } from './yaml-reader.js';

const AGGREGATION_KEYS = [
  'name',
  'function',
  'input',
  'window',
  'hop',
  'n',
  'precision',
  'group_by',
  'description',
  'tags',
];

/** The event-view keys of a feature view's map, as the optional fields of its definition. */
export function readEventViewKeys(
  r: YamlReader,
  m: Map<string, Node | null> | undefined,
  path: string,
  what: string,
): Pick<FeatureViewDef, 'kind' | 'events' | 'aggregations'> {
  const kind = r.string(m?.get('kind'), joinPath(path, 'kind'), `${what}: kind`);
  const lateness = readDuration(
    r,
    m?.get('allowed_lateness'),
    joinPath(path, 'allowed_lateness'),
    `${what}: allowed_lateness`,
  );
  const tolerance = readDuration(
    r,
    m?.get('future_tolerance'),
    joinPath(path, 'future_tolerance'),
    `${what}: future_tolerance`,
  );
  const aggregationsPath = joinPath(path, 'aggregations');
  const items = r.seq(
    m?.get('aggregations'),
    aggregationsPath,
    `${what}: aggregations`,
    '[{ name: purchases_7d, function: count, window: 7d }]',
  );
  return {
    // Checked against the known kinds by validation, which names them.
    ...(kind === undefined ? {} : { kind: kind as ViewKind }),
    ...(lateness === undefined && tolerance === undefined
      ? {}
      : {
          events: {
            allowedLatenessMillis: lateness ?? DEFAULT_ALLOWED_LATENESS_MILLIS,
            futureToleranceMillis: tolerance ?? DEFAULT_FUTURE_TOLERANCE_MILLIS,
          },
        }),
    ...(items === undefined
      ? {}
      : { aggregations: items.map((item, i) => readAggregation(r, item, `${aggregationsPath}[${i}]`, what)) }),
  };
}

/** A duration written like a TTL (`1h`, `60s`, `0`), in milliseconds; undefined when absent or malformed (reported). */
export function readDuration(
  r: YamlReader,
  node: Node | null | undefined,
  path: string,
  what: string,
): number | undefined {
  if (node === undefined) return undefined;
  const parsed = parseTtl(scalarText(node) ?? '');
  if (parsed.ok) return parsed.seconds * 1000;
  r.report(path, node, `${what}: ${parsed.error.replace('TTL', 'duration').replace(', or 0 for never', '')}`);
  return undefined;
}

function readAggregation(r: YamlReader, node: Node | null, path: string, view: string): AggregationDef {
  const m = r.map(node, path, `${view}: an aggregation`, AGGREGATION_KEYS, ['name', 'function', 'window']);
  const name = r.string(m?.get('name'), `${path}.name`, `${view}: aggregation name`) ?? '';
  const what = `${view}, aggregation ${name}`;
  let windowMillis = 0;
  const windowNode = m?.get('window');
  if (windowNode !== undefined && scalarText(windowNode) !== 'unbounded') {
    const window = readDuration(r, windowNode, `${path}.window`, `${what}: window`);
    if (window === 0) {
      r.report(`${path}.window`, windowNode, `${what}: window 0 is empty; give a duration such as 30d, or unbounded`);
    }
    // An unreadable window was reported; 1 ms keeps the later rules from calling it unbounded.
    windowMillis = window === undefined || window === 0 ? 1 : window;
  }
  const hop = readDuration(r, m?.get('hop'), `${path}.hop`, `${what}: hop`);
  return {
    name,
    // Checked against the known functions by validation, which names them.
    function: (r.string(m?.get('function'), `${path}.function`, `${what}: function`) ?? '') as AggregationFunction,
    input: r.string(m?.get('input'), `${path}.input`, `${what}: input`) ?? '',
    windowMillis,
    hopMillis: hop ?? 0,
    n: r.number(m?.get('n'), `${path}.n`, `${what}: n`) ?? 0,
    precision: r.number(m?.get('precision'), `${path}.precision`, `${what}: precision`) ?? 0,
    groupBy: r.string(m?.get('group_by'), `${path}.group_by`, `${what}: group_by`) ?? '',
    description: r.string(m?.get('description'), `${path}.description`, `${what}: description`) ?? '',
    tags: r.tags(m?.get('tags'), `${path}.tags`, what) ?? {},
  };
}
