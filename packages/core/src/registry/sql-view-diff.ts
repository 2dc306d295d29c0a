/**
 * Versioning of SQL views (docs/design/window-aggregations.md §5.1): their stored rows were computed
 * by their SELECT from the versions it read, so a change of the SQL text, of what it reads or of its
 * output columns is breaking (n+1, a table of its own, refreshed or backfilled afresh); a schedule
 * change is compatible (the rows already computed stay right).
 */
import type { FeatureViewDef, SqlViewDef } from '../model.js';
import { formatWindow } from '../definitions/aggregation-rules.js';

/** `reads purchases@1; every 1h, delay 15m`: what History and apply output show of an SQL view. */
export function describeSqlView(def: SqlViewDef): string[] {
  return [`sql reads: ${def.reads.join(', ') || '(none)'}`, `schedule: ${describeSchedule(def)}`];
}

function describeSchedule(def: SqlViewDef): string {
  return `every ${formatWindow(def.everyMillis)}, delay ${def.delayMillis === 0 ? '0' : formatWindow(def.delayMillis)}`;
}

/**
 * Adds the SQL-view lines of a diff between two SQL view versions. Features the definition adds
 * are output columns of a different SELECT: their "added" lines move from compatible to breaking.
 */
export function diffSqlView(
  latest: FeatureViewDef,
  def: FeatureViewDef,
  breaking: string[],
  compatible: string[],
): void {
  const before = latest.sql;
  const after = def.sql;
  if (before === undefined || after === undefined) return;
  if (before.sql !== after.sql) breaking.push('sql changed (breaking: stored rows were computed by the old SELECT)');
  const readsBefore = before.reads.join(', ');
  const readsAfter = after.reads.join(', ');
  if (readsBefore !== readsAfter) breaking.push(`sql reads: ${readsBefore} -> ${readsAfter} (breaking)`);
  const known = new Set(latest.features.map((f) => f.name));
  for (const feature of def.features) {
    if (known.has(feature.name)) continue;
    const at = compatible.findIndex((line) => line.startsWith(`feature ${feature.name}: added`));
    if (at >= 0) compatible.splice(at, 1);
    breaking.push(`feature ${feature.name}: added (a new output column of the SELECT; breaking)`);
  }
  if (describeSchedule(before) !== describeSchedule(after)) {
    compatible.push(`schedule: ${describeSchedule(before)} -> ${describeSchedule(after)}`);
  }
}
