/**
 * Apply-time rules of SQL views (docs/design/window-aggregations.md §5.1) that need no engine: the
 * text (placeholders naming views of the same definitions, only the interval parameters, a size
 * bound), the schedule, the feature types an SQL view can compute, and no cycle among SQL views.
 * The SQL itself (one SELECT, only the placeholders' tables, its output columns and their types)
 * is checked by the offline store when the apply reaches the server.
 */
import type { FeatureViewDef } from '../model.js';
import {
  MAX_SQL_VIEW_CHARS,
  MAX_SQL_VIEW_DELAY_MILLIS,
  MAX_SQL_VIEW_EVERY_MILLIS,
  MIN_SQL_VIEW_EVERY_MILLIS,
  SQL_VIEW_END_PARAMETER,
  SQL_VIEW_START_PARAMETER,
  parseSqlViewText,
} from '../sql-view/placeholders.js';
import { formatWindow } from './aggregation-rules.js';
import type { AddProblem } from './validate-feature.js';

/** Feature types an SQL view may declare (one column each; list features are not supported yet). */
export const SQL_VIEW_FEATURE_TYPES: readonly string[] = ['int64', 'double', 'string', 'bool', 'timestamp', 'bytes'];

/** Checks the SQL-view part of `view` (its entities and features were checked as any view's). */
export function validateSqlView(
  view: FeatureViewDef,
  path: string,
  views: ReadonlyMap<string, FeatureViewDef>,
  add: AddProblem,
): void {
  const what = `SQL view ${view.name}`;
  const def = view.sql;
  if (def === undefined) {
    add(path, `${what}: kind sql needs a SELECT and a schedule; declare it under sql_views`);
    return;
  }
  if (view.source !== undefined || (view.aggregations ?? []).length > 0 || view.events !== undefined) {
    add(path, `${what}: an SQL view has no source, events options or aggregations (its SELECT computes its rows)`);
  }
  view.features.forEach((feature, k) => {
    if (!SQL_VIEW_FEATURE_TYPES.includes(feature.type)) {
      add(
        `${path}.features[${k}].type`,
        `${what}, feature ${feature.name}: type ${feature.type} is not supported in an SQL view; use one of ${SQL_VIEW_FEATURE_TYPES.join(', ')}`,
      );
    }
  });
  const every = def.everyMillis;
  if (!Number.isSafeInteger(every) || every < MIN_SQL_VIEW_EVERY_MILLIS || every > MAX_SQL_VIEW_EVERY_MILLIS) {
    add(
      `${path}.schedule.every`,
      `${what}: schedule every ${formatWindow(every)} must be between ${formatWindow(MIN_SQL_VIEW_EVERY_MILLIS)} and ${formatWindow(MAX_SQL_VIEW_EVERY_MILLIS)}`,
    );
  }
  const delay = def.delayMillis;
  if (!Number.isSafeInteger(delay) || delay < 0 || delay > MAX_SQL_VIEW_DELAY_MILLIS) {
    add(
      `${path}.schedule.delay`,
      `${what}: schedule delay ${formatWindow(delay)} must be between 0 and ${formatWindow(MAX_SQL_VIEW_DELAY_MILLIS)}`,
    );
  }
  const sqlPath = `${path}.sql`;
  if (def.sql.trim() === '') {
    add(sqlPath, `${what}: sql is empty; write a SELECT over {{ view }} placeholders`);
    return;
  }
  if (def.sql.length > MAX_SQL_VIEW_CHARS) {
    add(sqlPath, `${what}: sql is ${def.sql.length} characters long; the limit is ${MAX_SQL_VIEW_CHARS}`);
    return;
  }
  // One problem per path survives the YAML loader's de-duplication: the SQL's problems go together.
  const { placeholders, problems } = parseSqlViewText(def.sql);
  const found = problems.map((p) => `sql: ${p}`);
  if (placeholders.length === 0 && problems.length === 0) {
    found.push('sql reads no view; name the views it reads as placeholders, e.g. FROM {{ purchases }}');
  }
  for (const parameter of [SQL_VIEW_START_PARAMETER, SQL_VIEW_END_PARAMETER]) {
    if (!def.sql.includes(parameter)) {
      found.push(
        `sql does not use ${parameter}; filter the rows it reads to the refresh interval, e.g. WHERE event_ts >= ${SQL_VIEW_START_PARAMETER} AND event_ts < ${SQL_VIEW_END_PARAMETER}`,
      );
    }
  }
  const reported = new Set<string>();
  for (const p of placeholders) {
    if (reported.has(p.view)) continue;
    reported.add(p.view);
    const read = views.get(p.view);
    if (p.view === view.name) {
      found.push(`sql reads the view itself (${p.text}); an SQL view reads other views only`);
    } else if (read === undefined) {
      const known = [...views.keys()].join(', ') || '(none)';
      found.push(`sql: placeholder ${p.text} names an unknown feature view; defined views: ${known}`);
    } else if (read.kind === 'on_demand') {
      found.push(`sql: placeholder ${p.text} names an on-demand view, which stores nothing to read`);
    }
  }
  if (found.length > 0) add(sqlPath, `${what}: ${found.join('; ')}`);
}

/**
 * SQL views reading each other in a loop, by name (each cycle once, as `a -> b -> a`), found over
 * the placeholders of the definitions: an SQL view's rows can only be computed after those it reads.
 */
export function sqlViewCycles(views: readonly FeatureViewDef[]): { view: string; cycle: string }[] {
  const edges = new Map<string, string[]>();
  for (const view of views) {
    if (view.kind !== 'sql' || view.sql === undefined) continue;
    edges.set(view.name, [...new Set(parseSqlViewText(view.sql.sql).placeholders.map((p) => p.view))]);
  }
  const cycles: { view: string; cycle: string }[] = [];
  const done = new Set<string>();
  const visit = (name: string, stack: string[]): void => {
    const at = stack.indexOf(name);
    if (at >= 0) {
      const loop = stack.slice(at);
      // Report a cycle once, starting from its smallest name.
      const start = loop.indexOf([...loop].sort()[0] ?? name);
      const rotated = [...loop.slice(start), ...loop.slice(0, start)];
      const cycle = [...rotated, rotated[0]].join(' -> ');
      if (!cycles.some((c) => c.cycle === cycle)) cycles.push({ view: rotated[0] ?? name, cycle });
      return;
    }
    if (done.has(name)) return;
    for (const next of edges.get(name) ?? []) if (next !== name) visit(next, [...stack, name]);
    done.add(name);
  };
  for (const name of edges.keys()) visit(name, []);
  return cycles;
}
