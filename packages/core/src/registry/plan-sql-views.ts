/**
 * The lineage of SQL views in an apply (docs/design/window-aggregations.md §5.1): each placeholder
 * resolved to the `view@version` it reads once the views it names are planned (so SQL views are
 * planned after every other view, each after the SQL views it reads), and the refusal of a prune
 * that would delete a view a remaining SQL view reads.
 */
import { TesseraError } from '../errors.js';
import type { FeatureViewDef } from '../model.js';
import { quoteInput } from '../quote.js';
import { parseSqlViewText, sqlViewReads } from '../sql-view/placeholders.js';
import type { ViewLineage } from './state.js';

/** The views of an apply in planning order: other views as given, then SQL views, each after those it reads. */
export function planningOrder(views: readonly FeatureViewDef[]): FeatureViewDef[] {
  const sql = views.filter((v) => v.kind === 'sql' && v.sql !== undefined);
  const ordered = views.filter((v) => !sql.includes(v));
  const byName = new Map(sql.map((v) => [v.name, v]));
  const placed = new Set<string>();
  const place = (view: FeatureViewDef, depth: number): void => {
    // Validation refuses cycles; the depth bound only keeps a bad input from recursing forever.
    if (placed.has(view.name) || depth > sql.length) return;
    for (const p of parseSqlViewText(view.sql?.sql ?? '').placeholders) {
      const read = byName.get(p.view);
      if (read !== undefined && read !== view) place(read, depth + 1);
    }
    if (!placed.has(view.name)) {
      placed.add(view.name);
      ordered.push(view);
    }
  };
  for (const view of sql) place(view, 0);
  return ordered;
}

/**
 * `def` with its lineage: every placeholder resolved against the views planned so far (unpinned =
 * the latest version after this apply). INVALID_ARGUMENT when a pinned version does not exist.
 */
export function withResolvedReads(def: FeatureViewDef, views: ReadonlyMap<string, ViewLineage>): FeatureViewDef {
  if (def.kind !== 'sql' || def.sql === undefined) return def;
  const { placeholders } = parseSqlViewText(def.sql.sql);
  for (const p of placeholders) {
    const lineage = views.get(p.view);
    const versions = lineage?.versions.length ?? 0;
    if (p.version > versions) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `SQL view ${def.name}: placeholder ${quoteInput(p.text)}: feature view ${p.view} has versions 1..${versions}`,
      );
    }
  }
  const reads = sqlViewReads(placeholders, (name) => views.get(name)?.versions.length ?? 0);
  return { ...def, sql: { ...def.sql, reads } };
}

/**
 * Refuses a state in which a remaining SQL view reads a deleted view (FAILED_PRECONDITION naming
 * both): its refresh could no longer run. Delete the SQL view in the same apply, or keep the view.
 */
export function checkSqlViewReads(views: ReadonlyMap<string, ViewLineage>): void {
  for (const [name, lineage] of views) {
    if (lineage.deletedAtMillis !== undefined) continue;
    const latest = lineage.versions[lineage.versions.length - 1];
    for (const read of latest?.sql?.reads ?? []) {
      const readView = read.slice(0, read.lastIndexOf('@'));
      const target = views.get(readView);
      if (target === undefined || target.deletedAtMillis !== undefined) {
        throw new TesseraError(
          'FAILED_PRECONDITION',
          `Cannot delete feature view ${readView}: SQL view ${name}@${latest?.version ?? 0} reads ${read}; delete ${name} in the same apply or keep ${readView}`,
        );
      }
    }
  }
}
