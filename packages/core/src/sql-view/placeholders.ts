/**
 * The text rules of an SQL view's SELECT (docs/design/window-aggregations.md §5.1): other views
 * are named only through placeholders `{{ view }}` / `{{ view@n }}`, which the registry resolves
 * to `view@version` (the lineage) and the offline store to that version's table — identifiers
 * from the registry, never from the text; the only query parameters are the refresh interval's
 * `{start:DateTime64(3)}` and `{end:DateTime64(3)}`. The engine's parser has the last word on
 * the SQL itself (the offline store's guard); these checks give early, located messages.
 */
import { identifierProblem } from '../definitions/names.js';

/** Longest SQL view text accepted, in characters. */
export const MAX_SQL_VIEW_CHARS = 100_000;

/** Most distinct views one SQL view may read. */
export const MAX_SQL_VIEW_READS = 16;

/** The refresh interval's parameters, written exactly so in the SQL. */
export const SQL_VIEW_START_PARAMETER = '{start:DateTime64(3)}';
export const SQL_VIEW_END_PARAMETER = '{end:DateTime64(3)}';

/** Shortest and longest refresh period, and the longest delay. */
export const MIN_SQL_VIEW_EVERY_MILLIS = 60_000;
export const MAX_SQL_VIEW_EVERY_MILLIS = 31 * 86_400_000;
export const MAX_SQL_VIEW_DELAY_MILLIS = 7 * 86_400_000;

/** One placeholder of an SQL view's text. */
export interface SqlViewPlaceholder {
  /** As written, braces included. */
  readonly text: string;
  readonly view: string;
  /** 0 = the latest version when the view is applied. */
  readonly version: number;
}

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const PLACEHOLDER_BODY = /^\s*([^@\s]+)(?:@(\d+))?\s*$/;
const PARAMETER = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:([^{}]*)\}/g;

/** The placeholders of `sql` in order, and what is wrong with any of them or with its parameters. */
export function parseSqlViewText(sql: string): { placeholders: SqlViewPlaceholder[]; problems: string[] } {
  const placeholders: SqlViewPlaceholder[] = [];
  const problems: string[] = [];
  for (const match of sql.matchAll(PLACEHOLDER)) {
    const text = match[0];
    const body = PLACEHOLDER_BODY.exec(match[1] ?? '');
    const view = body?.[1] ?? '';
    const nameProblem = body === null ? 'is not {{ view }} or {{ view@n }}' : identifierProblem(view);
    const version = body?.[2] === undefined ? 0 : Number(body[2]);
    if (nameProblem !== undefined) {
      problems.push(`placeholder ${JSON.stringify(text)}: ${nameProblem}`);
    } else if (body?.[2] !== undefined && (!Number.isSafeInteger(version) || version < 1)) {
      problems.push(`placeholder ${JSON.stringify(text)}: the version must be 1 or more`);
    } else {
      placeholders.push({ text, view, version });
    }
  }
  const rest = sql.replace(PLACEHOLDER, ' ');
  if (/\{\{|\}\}/.test(rest))
    problems.push('an unmatched "{{" or "}}": write placeholders as {{ view }} or {{ view@n }}');
  for (const match of rest.matchAll(PARAMETER)) {
    if (match[0] !== SQL_VIEW_START_PARAMETER && match[0] !== SQL_VIEW_END_PARAMETER) {
      problems.push(
        `parameter ${JSON.stringify(match[0])} is not allowed: the only parameters are ${SQL_VIEW_START_PARAMETER} and ${SQL_VIEW_END_PARAMETER} (the refresh interval)`,
      );
    }
  }
  const versions = new Map<string, number>();
  for (const p of placeholders) {
    const seen = versions.get(p.view);
    if (seen !== undefined && seen !== p.version) {
      problems.push(
        `view ${p.view} is named with different versions; name each view the same way everywhere in the SQL`,
      );
    }
    versions.set(p.view, p.version);
  }
  const views = new Set(placeholders.map((p) => p.view));
  if (views.size > MAX_SQL_VIEW_READS) {
    problems.push(`reads ${views.size} views; at most ${MAX_SQL_VIEW_READS} are allowed`);
  }
  return { placeholders, problems };
}

/**
 * Replaces every placeholder of `sql` by `table(view, version)`, the version from `reads`
 * (`view@version` per distinct view, as the registry assigned them).
 * Throws when a placeholder has no resolved read (a registry bug, never user input).
 */
export function resolveSqlViewText(
  sql: string,
  reads: readonly string[],
  table: (view: string, version: number) => string,
): string {
  const resolved = new Map<string, number>();
  for (const read of reads) {
    const at = read.lastIndexOf('@');
    resolved.set(read.slice(0, at), Number(read.slice(at + 1)));
  }
  return sql.replace(PLACEHOLDER, (text, body: string) => {
    const view = PLACEHOLDER_BODY.exec(body)?.[1] ?? '';
    const version = resolved.get(view);
    if (version === undefined) throw new Error(`SQL view placeholder ${text} has no resolved read`);
    return table(view, version);
  });
}

/**
 * The distinct `view@version` reads of a text whose unpinned placeholders resolve by `latest`
 * (the view's latest version after the apply), in order of first appearance (one per view: all
 * placeholders of a view carry the same version, a rule of parseSqlViewText).
 */
export function sqlViewReads(placeholders: readonly SqlViewPlaceholder[], latest: (view: string) => number): string[] {
  const reads: string[] = [];
  for (const p of placeholders) {
    if (reads.some((r) => r.startsWith(`${p.view}@`))) continue;
    reads.push(`${p.view}@${p.version === 0 ? latest(p.view) : p.version}`);
  }
  return reads;
}
