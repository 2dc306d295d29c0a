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

/** Most view versions one SQL view may read (the placeholders' limit). */
export const MAX_SQL_VIEW_READS = 16;

/** Longest refresh interval: the longest schedule period (31 days). */
export const MAX_SQL_VIEW_INTERVAL_MILLIS = 31 * 86_400_000;

/** DateTime64(3)'s range: 1900-01-01 to 2299-12-31 (UTC). */
const MIN_TS_MILLIS = -2_208_988_800_000n;
const MAX_TS_MILLIS = 10_413_791_999_999n;

/** What a deduplication token may look like (Tessera's are sha256 hex). */
const DEDUP_TOKEN = /^[A-Za-z0-9_.:@-]{1,128}$/;

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
  const { startMillis, endMillis } = request;
  for (const [name, bound] of [
    ['start_millis', startMillis],
    ['end_millis', endMillis],
  ] as const) {
    if (bound < MIN_TS_MILLIS || bound > MAX_TS_MILLIS) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `${label}: ${name} ${bound} is outside ${MIN_TS_MILLIS}..${MAX_TS_MILLIS} (DateTime64(3), ms since the epoch)`,
      );
    }
  }
  if (endMillis <= startMillis || endMillis - startMillis > BigInt(MAX_SQL_VIEW_INTERVAL_MILLIS)) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${label}: end_millis must be after start_millis and at most ${MAX_SQL_VIEW_INTERVAL_MILLIS} ms (31 days) later`,
    );
  }
  if (!DEDUP_TOKEN.test(request.dedupToken)) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: dedup_token must be 1 to 128 characters of [A-Za-z0-9_.:@-]`);
  }
  return {
    view,
    interval: { startMillis: Number(startMillis), endMillis: Number(endMillis) },
    dedupToken: request.dedupToken,
  };
}
