/**
 * On-demand features: CEL expressions over other views' features, request fields and `now`
 * (docs/design/window-aggregations.md §5.2), checked at apply and compiled once per registry
 * state. The same compiled program evaluates online (GetOnlineFeatures) and offline (GetHistorical),
 * so the two sides differ only in the values they hand it.
 *
 * CEL engine: @marcbachmann/cel-js (a tree-walking interpreter with a type checker; its dist has no
 * eval / new Function — packages/core/test/cel-package.test.ts checks the installed copy).
 */
import { Environment } from '@marcbachmann/cel-js';
import type { FeatureValue, RequestFieldDef, ValueType } from '../model.js';

/** Longest expression accepted, in UTF-8 bytes. */
export const ON_DEMAND_MAX_EXPRESSION_BYTES = 2048;

/** Types an on-demand feature may have (CEL results convert back to them exactly). */
export const ON_DEMAND_TYPES: readonly ValueType[] = [
  'int64',
  'double',
  'string',
  'bool',
  'timestamp',
  'bytes',
  'double_list',
  'int64_list',
  'string_list',
];

/** The CEL type a Tessera value is seen as: int64 → int, timestamp → int (ms), lists → list<…>. */
export function celTypeOf(type: ValueType): string {
  switch (type) {
    case 'int64':
    case 'timestamp':
      return 'int';
    case 'double':
      return 'double';
    case 'string':
      return 'string';
    case 'bool':
      return 'bool';
    case 'bytes':
      return 'bytes';
    case 'float_list':
    case 'double_list':
      return 'list<double>';
    case 'int64_list':
      return 'list<int>';
    case 'string_list':
      return 'list<string>';
  }
}

/** One input of an on-demand view: `view:feature`, read in expressions as `view.feature`. */
export interface OnDemandInput {
  readonly view: string;
  readonly feature: string;
  readonly type: ValueType;
}

/** What an expression can see. */
export interface OnDemandScope {
  readonly inputs: readonly OnDemandInput[];
  readonly requestFields: readonly RequestFieldDef[];
}

/** The values of one row: inputs and request fields in scope order, `now` in ms. */
export interface OnDemandRow {
  readonly inputs: readonly FeatureValue[];
  readonly request: readonly FeatureValue[];
  readonly nowMillis: number;
}

/** A checked, compiled expression. `evaluate` returns null for null inputs (unless evaluateNulls) and throws on errors. */
export interface OnDemandProgram {
  readonly type: ValueType;
  /** Indexes into scope.inputs / scope.requestFields the expression references. */
  readonly usedInputs: readonly number[];
  readonly usedRequest: readonly number[];
  evaluate(row: OnDemandRow): FeatureValue;
}

export type CompileResult = { ok: true; program: OnDemandProgram } | { ok: false; error: string };

/** Extra functions, implemented once here: avg(list) (error on empty), sum(list), days(ms). */
function addFunctions(env: Environment): Environment {
  const avg = (list: readonly (number | bigint)[]): number => {
    if (list.length === 0) throw new Error('avg of an empty list');
    let total = 0;
    for (const v of list) total += Number(v);
    return total / list.length;
  };
  const sumInt = (list: readonly bigint[]): bigint => {
    let total = 0n;
    for (const v of list) total += v;
    if (total > INT64_MAX || total < INT64_MIN) throw new Error('integer overflow in sum');
    return total;
  };
  return env
    .registerFunction('avg(list<double>): double', avg)
    .registerFunction('avg(list<int>): double', avg)
    .registerFunction('sum(list<double>): double', (list: readonly number[]) => list.reduce((a, b) => a + b, 0))
    .registerFunction('sum(list<int>): int', sumInt)
    .registerFunction('days(int): double', (ms: bigint) => Number(ms) / 86_400_000);
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

function environment(scope: OnDemandScope, evaluateNulls: boolean): Environment {
  const env = addFunctions(new Environment());
  const byView = new Map<string, Record<string, string>>();
  for (const input of scope.inputs) {
    const schema = byView.get(input.view) ?? {};
    schema[input.feature] = evaluateNulls ? 'dyn' : celTypeOf(input.type);
    byView.set(input.view, schema);
  }
  for (const [name, schema] of byView) env.registerVariable({ name, schema });
  for (const field of scope.requestFields) {
    env.registerVariable(field.name, evaluateNulls ? 'dyn' : celTypeOf(field.type));
  }
  env.registerVariable('now', 'int');
  return env;
}

/** The first line of a cel-js error, with the column its caret points at. */
function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const lines = text.split('\n');
  const first = lines[0] ?? text;
  const source = lines.find((l) => l.startsWith('>'));
  const caret = lines.find((l) => /^\s*\^\s*$/.test(l));
  if (source === undefined || caret === undefined) return first;
  const column = caret.indexOf('^') - source.indexOf('|') - 1;
  return column >= 1 ? `${first} (at column ${column})` : first;
}

interface AstNode {
  readonly op: string;
  readonly args: unknown;
}

/** The variables an expression reads: `view.feature` selections and plain identifiers. */
function referenced(ast: unknown, views: ReadonlySet<string>): { selects: Set<string>; ids: Set<string> } {
  const selects = new Set<string>();
  const ids = new Set<string>();
  const visit = (node: unknown, depth: number): void => {
    if (depth > 1000 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const child of node) visit(child, depth + 1);
      return;
    }
    const n = node as AstNode;
    if (typeof n.op !== 'string') return;
    if (n.op === 'id' && typeof n.args === 'string') {
      ids.add(n.args);
      return;
    }
    if (n.op === '.' && Array.isArray(n.args)) {
      const [target, field] = n.args as [AstNode, unknown];
      if (
        target?.op === 'id' &&
        typeof target.args === 'string' &&
        views.has(target.args) &&
        typeof field === 'string'
      ) {
        selects.add(`${target.args}.${field}`);
        return;
      }
    }
    visit(n.args, depth + 1);
  };
  visit(ast, 0);
  return { selects, ids };
}

/**
 * Parses and type-checks `expression` in the scope; the checked type must be the declared one's
 * CEL type (or dyn with evaluateNulls, checked again on each result).
 */
export function compileOnDemand(
  expression: string,
  declared: ValueType,
  scope: OnDemandScope,
  evaluateNulls: boolean,
): CompileResult {
  const bytes = new TextEncoder().encode(expression).length;
  if (bytes > ON_DEMAND_MAX_EXPRESSION_BYTES) {
    return {
      ok: false,
      error: `the expression is ${bytes} bytes; at most ${ON_DEMAND_MAX_EXPRESSION_BYTES} are allowed`,
    };
  }
  if (!ON_DEMAND_TYPES.includes(declared)) {
    return {
      ok: false,
      error: `type ${declared} is not available for on-demand features (${ON_DEMAND_TYPES.join(', ')})`,
    };
  }
  let env: Environment;
  let checked;
  try {
    env = environment(scope, evaluateNulls);
    checked = env.check(expression);
  } catch (error) {
    return { ok: false, error: describeError(error) };
  }
  if (!checked.valid) return { ok: false, error: describeError(checked.error) };
  const want = celTypeOf(declared);
  if (checked.type !== want && !(evaluateNulls && checked.type === 'dyn')) {
    const hint = want === 'double' && checked.type === 'int' ? ' — use double(…)' : '';
    return {
      ok: false,
      error: `the expression is ${checked.type}, the feature is ${declared} (CEL ${want})${hint}`,
    };
  }
  let parsed;
  try {
    parsed = env.parse(expression);
  } catch (error) {
    return { ok: false, error: describeError(error) };
  }
  const views = new Set(scope.inputs.map((i) => i.view));
  const { selects, ids } = referenced(parsed.ast, views);
  const usedInputs = scope.inputs.flatMap((input, i) => (selects.has(`${input.view}.${input.feature}`) ? [i] : []));
  const usedRequest = scope.requestFields.flatMap((field, i) => (ids.has(field.name) ? [i] : []));
  const run = parsed as unknown as (context: Record<string, unknown>) => unknown;
  const program: OnDemandProgram = {
    type: declared,
    usedInputs,
    usedRequest,
    evaluate(row) {
      if (!evaluateNulls) {
        for (const i of usedInputs) if (row.inputs[i] === null || row.inputs[i] === undefined) return null;
        for (const i of usedRequest) if (row.request[i] === null || row.request[i] === undefined) return null;
      }
      const context: Record<string, unknown> = { now: BigInt(Math.trunc(row.nowMillis)) };
      scope.inputs.forEach((input, i) => {
        const record = (context[input.view] ??= {}) as Record<string, unknown>;
        record[input.feature] = toCel(input.type, row.inputs[i] ?? null);
      });
      scope.requestFields.forEach((field, i) => {
        context[field.name] = toCel(field.type, row.request[i] ?? null);
      });
      return fromCel(declared, run(context));
    },
  };
  return { ok: true, program };
}

/** A Tessera value as CEL sees it (timestamps as int ms, typed arrays as lists). */
function toCel(type: ValueType, value: FeatureValue): unknown {
  if (value === null) return null;
  if (type === 'timestamp') return BigInt(Math.trunc(value as number));
  if (type === 'float_list' || type === 'double_list') return Array.from(value as Float64Array);
  if (type === 'int64_list') return Array.from(value as BigInt64Array);
  if (type === 'string_list') return [...(value as readonly string[])];
  return value;
}

/** A CEL result as a value of the declared type; throws when it is not one (dyn results). */
function fromCel(type: ValueType, value: unknown): FeatureValue {
  if (value === null) return null;
  const wrong = (): never => {
    throw new Error(`the result is not a ${type}`);
  };
  switch (type) {
    case 'int64':
      return typeof value === 'bigint' ? value : wrong();
    case 'timestamp':
      return typeof value === 'bigint' ? Number(value) : wrong();
    case 'double':
      return typeof value === 'number' ? value : wrong();
    case 'string':
      return typeof value === 'string' ? value : wrong();
    case 'bool':
      return typeof value === 'boolean' ? value : wrong();
    case 'bytes':
      return value instanceof Uint8Array ? value : wrong();
    case 'double_list':
      return Array.isArray(value) && value.every((v) => typeof v === 'number') ? Float64Array.from(value) : wrong();
    case 'float_list':
      return Array.isArray(value) && value.every((v) => typeof v === 'number') ? Float32Array.from(value) : wrong();
    case 'int64_list':
      return Array.isArray(value) && value.every((v) => typeof v === 'bigint') ? BigInt64Array.from(value) : wrong();
    case 'string_list':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : wrong();
  }
}
