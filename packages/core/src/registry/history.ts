/** History of one feature view: every version with who created it, when, and every change line. */
import type { RegisteredView } from '../model.js';
import type { RegistryLogRecord } from './log.js';
import type { RegistryState } from './state.js';

export interface ViewVersionHistory {
  readonly view: RegisteredView;
  /** Who created this version ('' when unknown). */
  readonly author: string;
  /** When this version was created. */
  readonly appliedAtMillis: number;
  /** Change lines of the apply that created it and of later compatible updates, prefixed by author and time. */
  readonly changes: readonly string[];
}

/**
 * Every version of `viewName` (oldest first), deleted views included, from the state and the log
 * records. Empty when the view was never registered.
 */
export function viewHistory(
  state: RegistryState,
  records: readonly RegistryLogRecord[],
  viewName: string,
): ViewVersionHistory[] {
  const lineage = state.featureViews.get(viewName);
  if (lineage === undefined) return [];
  return lineage.versions.map((view) => {
    let author = '';
    let appliedAtMillis = view.createdAtMillis;
    const changes: string[] = [];
    for (const record of records) {
      for (const change of record.changes) {
        if (change.objectType !== 'feature_view' || change.name !== viewName) continue;
        const touches =
          change.toVersion === view.version || (change.kind === 'delete' && change.fromVersion === view.version);
        if (!touches || change.kind === 'unchanged') continue;
        if (change.kind === 'create' || change.kind === 'new_version') {
          author = record.author;
          appliedAtMillis = record.appliedAtMillis;
        }
        const when = new Date(record.appliedAtMillis).toISOString();
        const who = record.author === '' ? 'unknown' : record.author;
        changes.push(`${change.kind} by ${who} at ${when}`, ...change.details.map((d) => `  ${d}`));
      }
    }
    return { view, author, appliedAtMillis, changes };
  });
}
