/**
 * Entity sources: SELECTs declared in the registry by an admin, with typed parameters written
 * `{name:Type}`. A caller passes parameter values as text; they are parsed by the declared type
 * here and never spliced into SQL by Tessera.
 *
 * The engine writes them in: a short *bound* `EXPLAIN SYNTAX <source SQL>` returns the statement
 * with every parameter as a typed, escaped literal (verified on chDB 3.4 with quotes, backslashes,
 * line breaks and `'); DROP TABLE x; --` in a string: one literal comes back). That text passes the
 * SQL guard again and then runs unbound like `entity_sql`: on chDB a bound query blocks every
 * other bound query and cannot be killed, so only this parse-only query is bound.
 *
 * Timestamps are bound as Int64 milliseconds since the epoch (the SQL writes
 * `fromUnixTimestamp64Milli({start:Int64}, 'UTC')`): measured on chDB 3.4, EXPLAIN SYNTAX writes a
 * `{x:DateTime64(3, 'UTC')}` value as epoch seconds in a string (`_CAST('7200', 'DateTime64…')`),
 * which the engine reads back wrong or not at all ('7200' is the year 7200, '0' and '86400' do
 * not parse). A rendered source holding such a cast is refused, at apply and at call.
 */
import { TesseraError, type EntitySourceDef, type EntitySourceParamType } from '@tessera/core';
import type { ClickHouseExecutor, QueryParams, QueryParamValue, QuerySettings } from '../executor.js';
import { MAX_TS_MILLIS, MIN_TS_MILLIS } from './entity-tsv.js';
import { quoteInput } from './quote-input.js';
import { guardEntitySql } from './sql-guard.js';

/**
 * ClickHouse type of each parameter type, as the source SQL writes its placeholder
 * (`{min_amount:Float64}`); a timestamp is Int64 ms since the epoch (see the file comment).
 */
export const ENTITY_SOURCE_CLICKHOUSE_TYPES: Readonly<Record<EntitySourceParamType, string>> = {
  int64: 'Int64',
  double: 'Float64',
  string: 'String',
  bool: 'Bool',
  timestamp: 'Int64',
};

/** A parameter value the engine wrote as a date text, which it does not read back faithfully. */
const DATE_PARAMETER_CAST = /_CAST\('[^']*', '(Date|DateTime|DateTime64|Date32)\b/;

/** Settings of the parse-only EXPLAIN: it executes nothing, but stays bounded. */
const EXPLAIN_SETTINGS: QuerySettings = { max_execution_time: 10, timeout_overflow_mode: 'throw' };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function invalid(source: string, message: string): TesseraError {
  return new TesseraError('INVALID_ARGUMENT', `entity source ${source}: ${message}`);
}

type Parsed = { readonly value: QueryParamValue } | { readonly problem: string };

function datePlaceholder(source: string): TesseraError {
  return invalid(
    source,
    "a Date or DateTime parameter placeholder is not read back faithfully by the engine; bind timestamps as ms since the epoch: fromUnixTimestamp64Milli({start:Int64}, 'UTC')",
  );
}

/** The bound value of one parameter given as text, or why it does not parse. */
function parseValue(type: EntitySourceParamType, text: string): Parsed {
  switch (type) {
    case 'int64': {
      if (!/^[+-]?\d{1,20}$/.test(text)) return { problem: 'must be a decimal 64-bit integer' };
      const value = BigInt(text);
      return value >= INT64_MIN && value <= INT64_MAX ? { value } : { problem: 'is outside the 64-bit integer range' };
    }
    case 'double': {
      const value = Number(text);
      return DECIMAL.test(text) && Number.isFinite(value) ? { value } : { problem: 'must be a finite decimal number' };
    }
    case 'bool':
      return text === 'true' || text === 'false' ? { value: text === 'true' } : { problem: 'must be true or false' };
    case 'timestamp': {
      const millis = /^-?\d{1,16}$/.test(text) ? Number(text) : RFC3339.test(text) ? Date.parse(text) : Number.NaN;
      if (!Number.isFinite(millis)) {
        return { problem: 'must be an RFC 3339 time (2026-01-31T00:00:00Z) or ms since the epoch' };
      }
      const whole = Math.floor(millis);
      if (whole < MIN_TS_MILLIS || whole > MAX_TS_MILLIS) {
        return { problem: 'must be between 1900-01-01 and 2299-12-31 UTC' };
      }
      return { value: BigInt(whole) };
    }
    case 'string':
      return { value: text };
  }
}

/**
 * The bound values of a call: every declared parameter given and parsable, no other one.
 * Throws INVALID_ARGUMENT naming the parameter.
 */
export function entitySourceParams(source: EntitySourceDef, given: ReadonlyMap<string, string>): QueryParams {
  const declared = new Map(source.params.map((p) => [p.name, p]));
  for (const name of given.keys()) {
    if (!declared.has(name)) {
      const known = source.params.map((p) => p.name).join(', ') || '(none)';
      throw invalid(source.name, `unknown parameter ${quoteInput(name)}; its parameters are ${known}`);
    }
  }
  const params: Record<string, QueryParamValue> = {};
  for (const param of source.params) {
    const text = given.get(param.name);
    if (text === undefined) throw invalid(source.name, `parameter ${param.name} (${param.type}) is missing`);
    const parsed = parseValue(param.type, text);
    if ('problem' in parsed) {
      throw invalid(source.name, `parameter ${param.name} ${parsed.problem}, got ${quoteInput(text)}`);
    }
    params[param.name] = parsed.value;
  }
  return params;
}

/** Harmless values of every declared parameter, to check a source's SQL when it is applied. */
function sampleParams(source: EntitySourceDef): QueryParams {
  const samples: Record<EntitySourceParamType, QueryParamValue> = {
    int64: 0n,
    double: 0,
    string: '',
    bool: false,
    timestamp: 0n,
  };
  return Object.fromEntries(source.params.map((p) => [p.name, samples[p.type]]));
}

/**
 * The source's SELECT with `params` written in by the engine as typed literals, checked by the
 * SQL guard; the canonical text that may run unbound. INVALID_ARGUMENT naming the source when the
 * SQL does not parse, uses an undeclared parameter, or the guard refuses it.
 */
export async function renderEntitySource(
  executor: ClickHouseExecutor,
  source: EntitySourceDef,
  params: QueryParams,
  options: { readonly database: string; readonly signal?: AbortSignal },
): Promise<string> {
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  let lines: string[];
  try {
    const rows = await executor.queryJson<{ explain: string }>(`EXPLAIN SYNTAX ${source.sql}`, params, {
      settings: EXPLAIN_SETTINGS,
      ...signal,
    });
    lines = rows.map((row) => row.explain);
  } catch (error) {
    if (error instanceof TesseraError && error.code !== 'INVALID_ARGUMENT') throw error;
    const message = error instanceof Error ? error.message : String(error);
    const reason = message.replace(/^.*?DB::Exception: /s, '').replace(/[:.]?\s*In scope[\s\S]*$/, '');
    if (/as (Date|DateTime|DateTime64|Date32)\b.* for query parameter/.test(reason)) throw datePlaceholder(source.name);
    throw invalid(source.name, `its SQL does not parse with its parameters: ${quoteInput(reason)}`);
  }
  if (lines.some((line) => DATE_PARAMETER_CAST.test(line))) throw datePlaceholder(source.name);
  try {
    return await guardEntitySql(executor, lines.join('\n'), { database: options.database, ...signal });
  } catch (error) {
    if (error instanceof TesseraError && error.code === 'INVALID_ARGUMENT') {
      throw invalid(source.name, error.message);
    }
    throw error;
  }
}

/**
 * Checks a source's SQL as an apply would store it: rendered with harmless values of its declared
 * parameters and passed through the SQL guard. Throws INVALID_ARGUMENT naming the source and reason.
 */
export async function checkEntitySource(
  executor: ClickHouseExecutor,
  source: EntitySourceDef,
  database: string,
): Promise<void> {
  await renderEntitySource(executor, source, sampleParams(source), { database });
}
