/**
 * The guard of caller-written SQL (`entity_sql`): exactly one SELECT that reads only tables of
 * Tessera's offline database and harmless generators, with no SETTINGS, FORMAT or INTO OUTFILE,
 * and no function that reaches outside the engine (files, URLs, dictionaries, Join tables).
 *
 * The engine's own parser decides, never a regex over the text:
 * 1. `SELECT formatQuerySingleLine({q:String})` receives the SQL as a bound parameter: it only
 *    parses and prints it, refuses several statements ("Multi-statements are not allowed"), and
 *    returns the canonical text of the one statement (comments and trailing `;` gone).
 * 2. `EXPLAIN AST <canonical>` parses that one statement again, executing nothing, and prints its
 *    syntax tree one node a line; the tree is walked here. Names and aliases are printed raw, so
 *    one holding a line break could forge lines: every node's printed child count must match the
 *    lines under it, or the SQL is refused.
 * Only the canonical text is ever executed, wrapped by Tessera (`DESCRIBE (…)`, `INSERT … FROM (…)`).
 */
import { TesseraError } from '@tessera/core';
import type { ClickHouseExecutor, QuerySettings } from '../executor.js';
import { quoteInput } from './quote-input.js';

/** Table functions an entity SELECT may use: generators that touch nothing outside the query. */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set([
  'numbers',
  'numbers_mt',
  'zeros',
  'zeros_mt',
  'values',
  'generateseries',
  'generate_series',
]);

/** Scalar functions (lower case, or prefixes ending in `*`) that read files, dictionaries or server state. */
const FORBIDDEN_FUNCTIONS: readonly string[] = [
  'file',
  'url',
  'dict*',
  'joinget*',
  'catboostevaluate',
  'modelevaluate',
  'naivebayesclassifier',
  'getsetting',
  'getserversetting',
  'getmacro',
  'getclienthttpheader',
  'filesystem*',
  'hasColumnInTable',
  'input',
].map((name) => name.toLowerCase());

/** Functions whose second argument may name a table (`x IN db.table`). */
const IN_FUNCTIONS: ReadonlySet<string> = new Set([
  'in',
  'notin',
  'globalin',
  'globalnotin',
  'nullin',
  'notnullin',
  'globalnullin',
  'globalnotnullin',
]);

/** Longest entity SQL accepted, in characters. */
export const MAX_ENTITY_SQL_CHARS = 100_000;

/** Settings of the two parse-only queries (they execute nothing, but stay bounded). */
const PARSE_SETTINGS: QuerySettings = { max_execution_time: 10, timeout_overflow_mode: 'throw' };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface AstNode {
  readonly type: string;
  /** The rest of the line after the type, without `(alias …)` and `(children n)`. */
  readonly name: string;
  readonly declaredChildren: number;
  readonly children: AstNode[];
  readonly parent: AstNode | undefined;
}

/** A name as a message shows it: plain when it is a simple identifier, else quoted and bounded. */
function nameText(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(name) && name.length <= 100 ? name : quoteInput(name);
}

function refuse(reason: string): TesseraError {
  return new TesseraError('INVALID_ARGUMENT', `entity_sql: ${reason}`);
}

/** Whether `name` (any case) is a forbidden scalar function. */
function forbiddenFunction(name: string): boolean {
  const lower = name.toLowerCase();
  return FORBIDDEN_FUNCTIONS.some((f) => (f.endsWith('*') ? lower.startsWith(f.slice(0, -1)) : lower === f));
}

/** The first line of an engine message, without the echo of the query ("In scope …"). */
function parseFailure(error: unknown): TesseraError {
  const message = error instanceof Error ? error.message : String(error);
  if (/Multi-statements are not allowed/.test(message)) {
    return refuse('exactly one SELECT statement is allowed (found more than one)');
  }
  const reason = message.replace(/^.*?DB::Exception: /s, '').replace(/[:.]?\s*In scope[\s\S]*$/, '');
  return refuse(`does not parse: ${quoteInput(reason)}`);
}

/** Rebuilds the tree of `EXPLAIN AST` lines; undefined when the lines are not one consistent tree. */
function parseTree(lines: readonly string[]): AstNode | undefined {
  const stack: AstNode[] = [];
  let root: AstNode | undefined;
  for (const line of lines) {
    const match = /^( *)([A-Za-z_][A-Za-z0-9_]*)(.*)$/.exec(line);
    if (match === null) return undefined;
    const depth = (match[1] ?? '').length;
    let rest = match[3] ?? '';
    let declaredChildren = 0;
    const children = / \(children (\d+)\)$/.exec(rest);
    if (children !== null) {
      declaredChildren = Number(children[1]);
      rest = rest.slice(0, children.index);
    }
    rest = rest.replace(/ \(alias [^\n]*\)$/, '');
    if (depth > stack.length || (depth === 0 && root !== undefined)) return undefined;
    stack.length = depth;
    const parent = stack[depth - 1];
    const node: AstNode = { type: match[2] ?? '', name: rest.trim(), declaredChildren, children: [], parent };
    if (parent === undefined) root = node;
    else parent.children.push(node);
    stack.push(node);
  }
  const consistent = (node: AstNode): boolean =>
    node.children.length === node.declaredChildren && node.children.every(consistent);
  return root !== undefined && consistent(root) ? root : undefined;
}

/** Refuses a table the query would read unless it is `<database>.<table>` (and in `allowed`, when given). */
function checkTable(name: string, database: string, allowed: AllowedTables | undefined): void {
  const [db, table, extra] = name.split('.');
  if (extra !== undefined || db === undefined || table === undefined || !IDENTIFIER.test(table) || db !== database) {
    throw refuse(
      `table ${nameText(name)} is not allowed: read only tables of the offline database, named ${database}.<table>`,
    );
  }
  if (allowed !== undefined && !allowed.tables.has(table)) throw refuse(`table ${nameText(name)} ${allowed.rule}`);
}

/** The only tables a guarded SELECT may read, and the rule a message states for any other. */
export interface AllowedTables {
  readonly tables: ReadonlySet<string>;
  readonly rule: string;
}

function walk(node: AstNode, database: string, allowed?: AllowedTables): void {
  switch (node.type) {
    case 'Set':
      throw refuse('a SETTINGS clause is not allowed');
    case 'TableIdentifier':
      checkTable(node.name, database, allowed);
      break;
    case 'Function': {
      const name = node.name.split(' ')[0] ?? '';
      if (node.parent?.type === 'TableExpression') {
        if (!ALLOWED_TABLE_FUNCTIONS.has(name.toLowerCase())) {
          throw refuse(
            `table function ${nameText(name)}() is not allowed (allowed: ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')})`,
          );
        }
      } else if (forbiddenFunction(name)) {
        throw refuse(`function ${nameText(name)}() is not allowed`);
      } else if (IN_FUNCTIONS.has(name.toLowerCase())) {
        const target = node.children[0]?.children[1];
        if (target?.type === 'Identifier') {
          throw refuse(
            `${nameText(name)} over a table name is not allowed; write IN (SELECT … FROM ${database}.<table>)`,
          );
        }
      }
      break;
    }
    default:
      break;
  }
  for (const child of node.children) walk(child, database, allowed);
}

/** Options of {@link guardEntitySql}. */
export interface EntitySqlGuardOptions {
  /** The offline database: the only one whose tables the SELECT may read. */
  readonly database: string;
  /**
   * When set, the only tables (names in `database`) the SELECT may read, and the rule a refusal
   * states for another one (an SQL view reads only the tables of its placeholders).
   */
  readonly allowedTables?: AllowedTables;
  readonly signal?: AbortSignal;
}

/**
 * Checks caller-written entity SQL with the engine's parser and returns its canonical text (one
 * SELECT statement, the only text Tessera then executes). Throws INVALID_ARGUMENT naming the
 * reason: several statements, not a SELECT, SETTINGS/FORMAT/INTO OUTFILE, a table function other
 * than {@link ALLOWED_TABLE_FUNCTIONS}, a table outside the offline database, or a function that
 * reads files, dictionaries or server state.
 */
export async function guardEntitySql(
  executor: ClickHouseExecutor,
  sql: string,
  options: EntitySqlGuardOptions,
): Promise<string> {
  if (sql.trim() === '') throw refuse('is empty');
  if (sql.length > MAX_ENTITY_SQL_CHARS) {
    throw refuse(`is ${sql.length} characters long; the limit is ${MAX_ENTITY_SQL_CHARS}`);
  }
  const base = { settings: PARSE_SETTINGS, ...(options.signal === undefined ? {} : { signal: options.signal }) };
  let canonical: string;
  try {
    const rows = await executor.queryJson<{ q: string }>(
      'SELECT formatQuerySingleLine({sql:String}) AS q',
      { sql },
      base,
    );
    canonical = rows[0]?.q ?? '';
  } catch (error) {
    if (error instanceof TesseraError && error.code !== 'INVALID_ARGUMENT') throw error;
    throw parseFailure(error);
  }
  if (canonical === '' || /[\r\n]/.test(canonical)) throw refuse('could not be read as one statement');
  let lines: string[];
  try {
    const rows = await executor.queryJson<{ explain: string }>(`EXPLAIN AST ${canonical}`, undefined, base);
    lines = rows.map((row) => row.explain);
  } catch (error) {
    if (error instanceof TesseraError && error.code !== 'INVALID_ARGUMENT') throw error;
    throw parseFailure(error);
  }
  const root = parseTree(lines);
  if (root === undefined) {
    throw refuse('could not be checked (a name or alias holding a line break is not allowed)');
  }
  if (root.type !== 'SelectWithUnionQuery') {
    throw refuse(`exactly one SELECT statement is allowed (got ${quoteInput(root.type.replace(/Query$/, ''))})`);
  }
  if (root.children.length !== 1) throw refuse('FORMAT and INTO OUTFILE are not allowed');
  walk(root, options.database, options.allowedTables);
  return canonical;
}
