/**
 * SQL views on the offline hop (design §5.1): the apply-time check and the refresh of one interval.
 * The offline server reads each view back as a definition (its SQL then goes through the store's
 * SQL guard, as in a feature server's own process) and checks every other field here: the lineage
 * matches the reads given, the interval bounds are integers in DateTime64's range and at most one
 * refresh period apart, and the deduplication token is a short plain token. Nothing else reaches SQL.
 */
import { TesseraError, type RegisteredView, type SqlViewInterval } from '@tessera/core';
import type { CheckSqlViewRequest, RefreshSqlViewRequest } from '@tessera/proto';
import { fromWireView } from './views.js';
import { checkDedupToken, checkTimeMillis } from './bounds.js';

/** Most view versions one SQL view may read (the placeholders' limit). */
export const MAX_SQL_VIEW_READS = 16;

/** Longest refresh interval: the longest schedule period (31 days). */
export const MAX_SQL_VIEW_INTERVAL_MILLIS = 31 * 86_400_000;

function sqlViewOf(wire: CheckSqlViewRequest['view'], what: string): RegisteredView {
  const view = fromWireView(wire, what);
  if (view.kind !== 'sql' || view.sql === undefined) {
    throw new TesseraError('INVALID_ARGUMENT', `${what}: ${view.name}@${view.version} is not an SQL view`);
  }
  return view;
}

/** The SQL view of a CheckSqlView request and the view versions it reads, one per entry of its lineage. */
export function checkSqlViewRequestOf(request: CheckSqlViewRequest): {
  view: RegisteredView;
  reads: RegisteredView[];
} {
  const view = sqlViewOf(request.view, 'CheckSqlView.view');
  if (request.reads.length > MAX_SQL_VIEW_READS) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `CheckSqlView: ${request.reads.length} read views exceed the limit of ${MAX_SQL_VIEW_READS}`,
    );
  }
  const reads = request.reads.map((r, i) => fromWireView(r, `CheckSqlView.reads[${i}]`));
  const lineage = view.sql?.reads ?? [];
  for (const read of reads) {
    if (read.kind === 'on_demand') {
      throw new TesseraError('INVALID_ARGUMENT', `CheckSqlView: ${read.name} is an on-demand view (it stores nothing)`);
    }
  }
  const given = new Set(reads.map((r) => `${r.name}@${r.version}`));
  const missing = lineage.filter((l) => !given.has(l));
  if (missing.length > 0 || given.size !== lineage.length || reads.length !== lineage.length) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `CheckSqlView: the read views (${[...given].join(', ') || 'none'}) are not the SQL view's lineage (${lineage.join(', ')})`,
    );
  }
  return { view, reads };
}

/** The SQL view, interval and token of a RefreshSqlView request, every field checked. */
export function refreshSqlViewRequestOf(request: RefreshSqlViewRequest): {
  view: RegisteredView;
  interval: SqlViewInterval;
  dedupToken: string;
} {
  const view = sqlViewOf(request.view, 'RefreshSqlView.view');
  const label = `RefreshSqlView of ${view.name}@${view.version}`;
  const startMillis = checkTimeMillis(request.startMillis, 'start_millis', label);
  const endMillis = checkTimeMillis(request.endMillis, 'end_millis', label);
  if (endMillis <= startMillis || endMillis - startMillis > MAX_SQL_VIEW_INTERVAL_MILLIS) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: end_millis must be after start_millis and at most ${MAX_SQL_VIEW_INTERVAL_MILLIS} ms (31 days) later`,
    );
  }
  const dedupToken = checkDedupToken(request.dedupToken, label);
  return {
    view,
    interval: { startMillis, endMillis },
    dedupToken,
  };
}
