import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { REPO_ROOT } from '@tessera/testkit';

/** The conformance file set (conformance/README.md has the format). */
export const CONFORMANCE_DIR = join(REPO_ROOT, 'conformance');

/** An expected failure: status code name, substrings of the message, and (optionally) the exact problem list. */
export interface ExpectedError {
  readonly code: string;
  readonly messageContains: readonly string[];
  readonly problems?: readonly unknown[];
}

export interface Vector {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly rpc: string;
  readonly request: unknown;
  readonly expect: { readonly response?: unknown; readonly ignore?: readonly string[]; readonly error?: ExpectedError };
}

/** What a runner got: a response as proto3 JSON, or a status. */
export type Answer =
  | { readonly response: unknown }
  | { readonly error: { readonly code: string; readonly message: string; readonly problems: readonly unknown[] } };

function readJsonFiles(dir: string): { file: string; json: unknown }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown }));
}

/** The setup writes (WriteRequest proto3 JSON), in file-name order. */
export function loadSetup(): { file: string; json: unknown }[] {
  return readJsonFiles(join(CONFORMANCE_DIR, 'setup'));
}

/** The vectors, in file-name order. */
export function loadVectors(): Vector[] {
  return readJsonFiles(join(CONFORMANCE_DIR, 'vectors')).map(({ file, json }) => ({
    file,
    ...(json as Omit<Vector, 'file'>),
  }));
}

const NOW_PATTERN = /^\$\{now(?:([+-])(\d+)(ms|s|m|h|d))?\}$/;
const UNIT_MILLIS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `${now}` / `${now-2h}` strings replaced by decimal ms strings relative to `nowMillis`. */
export function substituteNow<T>(value: T, nowMillis: number): T {
  return JSON.parse(JSON.stringify(value), (_key, v: unknown) => {
    if (typeof v !== 'string') return v;
    const match = NOW_PATTERN.exec(v);
    if (!match) return v;
    const offset =
      match[1] === undefined ? 0 : (match[1] === '-' ? -1 : 1) * Number(match[2]) * UNIT_MILLIS[match[3]!]!;
    return String(nowMillis + offset);
  }) as T;
}

/** Drops default values (empty strings/lists/objects, 0, false, zero enums) and the `ignore` paths; sorts keys. */
export function normalise(value: unknown, ignore: readonly string[] = []): unknown {
  let out = stripDefaults(value);
  for (const path of ignore) out = dropPath(out, path.split('.'));
  return out === undefined ? {} : out;
}

function stripDefaults(value: unknown): unknown {
  if (Array.isArray(value)) {
    // Inside a list every element counts (a 0 or "" is a row), so only nested objects are cleaned.
    const items = value as unknown[];
    return items.length === 0 ? undefined : items.map((v) => (isObject(v) ? (stripDefaults(v) ?? {}) : v));
  }
  if (isObject(value)) {
    const entries = Object.keys(value)
      .sort()
      .map((k): [string, unknown] => [k, stripDefaults(value[k])])
      .filter(([, v]) => v !== undefined);
    return entries.length === 0 ? undefined : Object.fromEntries(entries);
  }
  if (value === 0 || value === '' || value === false || value === '0' || value === null) return undefined;
  if (typeof value === 'string' && /_UNSPECIFIED$/.test(value)) return undefined;
  return value;
}

function dropPath(value: unknown, path: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => dropPath(v, path));
  if (!isObject(value) || path.length === 0) return value;
  const [head, ...rest] = path;
  if (!(head! in value)) return value;
  const copy = { ...value };
  if (rest.length === 0) delete copy[head!];
  else copy[head!] = dropPath(copy[head!], rest);
  return copy;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `answer` does not meet the vector's expectation (after substituting `now`), or undefined when it does. */
export function mismatch(vector: Vector, answer: Answer, nowMillis: number): string | undefined {
  const expected = substituteNow(vector.expect, nowMillis);
  if (expected.error !== undefined) {
    if (!('error' in answer)) return 'expected an error, got a response';
    const problems: string[] = [];
    if (answer.error.code !== expected.error.code) problems.push(`code ${answer.error.code} ≠ ${expected.error.code}`);
    for (const part of expected.error.messageContains) {
      if (!answer.error.message.includes(part)) problems.push(`message lacks ${JSON.stringify(part)}`);
    }
    if (expected.error.problems !== undefined && !isDeepStrictEqual(answer.error.problems, expected.error.problems)) {
      problems.push('problem list differs');
    }
    return problems.length === 0 ? undefined : problems.join('; ');
  }
  if (!('response' in answer)) return `expected a response, got ${answer.error.code}: ${answer.error.message}`;
  const ignore = expected.ignore ?? [];
  return isDeepStrictEqual(normalise(answer.response, ignore), normalise(expected.response, ignore))
    ? undefined
    : 'response differs';
}

/** The expected answer of a vector in the same shape as an Answer (for reports). */
export function expectedAnswer(vector: Vector, nowMillis: number): unknown {
  const expected = substituteNow(vector.expect, nowMillis);
  return expected.error ?? normalise(expected.response, expected.ignore);
}

/** The answer as a report shows it: the normalised response, or the status. */
export function shownAnswer(answer: Answer, ignore: readonly string[] = []): unknown {
  return 'response' in answer ? normalise(answer.response, ignore) : answer.error;
}

/** One report entry per mismatch: the vector, why, the expected and the actual answer. */
export function report(runner: string, vector: Vector, why: string, answer: Answer, nowMillis: number): string {
  return [
    `[${runner}] vector ${vector.name} (${vector.file}): ${why}`,
    `  expected: ${JSON.stringify(expectedAnswer(vector, nowMillis))}`,
    `  actual:   ${JSON.stringify(shownAnswer(answer, vector.expect.ignore))}`,
  ].join('\n');
}

export { GRPC_CODE_NAMES } from '@tessera/core';

/** Client-level view of a GetOnlineFeatures response (proto3 JSON): per feature, per row status and value. */
export interface OnlineRowsView {
  readonly ref: string;
  readonly type: string;
  readonly rows: { status: string; value: unknown; eventTimestamp?: string }[];
}

const LIST_KINDS = new Set(['floatListValues', 'doubleListValues', 'int64ListValues', 'stringListValues']);

/** conformance/README.md "Client-level comparison": the rows view of a GetOnlineFeaturesResponse in proto3 JSON. */
export function onlineRowsFromJson(response: unknown, withTimestamps: boolean): OnlineRowsView[] {
  const features = ((response as { features?: unknown[] }).features ?? []) as {
    ref: string;
    type: string;
    values?: Record<string, { values?: unknown[]; lengths?: number[] }> & { nullRows?: number[] };
    statuses?: string[];
    eventTimestamps?: string[];
  }[];
  return features.map((f) => {
    const nulls = new Set(f.values?.nullRows ?? []);
    const kind = Object.keys(f.values ?? {}).find((k) => k !== 'nullRows');
    const column = kind === undefined ? { values: [] } : f.values![kind]!;
    const flat = column.values ?? [];
    const statuses = f.statuses ?? [];
    let offset = 0;
    const rows = statuses.map((status, i) => {
      let value: unknown;
      if (kind !== undefined && LIST_KINDS.has(kind)) {
        const length = column.lengths?.[i] ?? 0;
        value = flat.slice(offset, offset + length);
        offset += length;
      } else {
        value = flat[i];
      }
      return {
        status: status.replace('FEATURE_STATUS_', ''),
        value: nulls.has(i) ? null : value,
        ...(withTimestamps ? { eventTimestamp: f.eventTimestamps?.[i] ?? '0' } : {}),
      };
    });
    return { ref: f.ref, type: f.type, rows };
  });
}

/**
 * What a client's own API answered (not the wire message): the rows view of a GetOnlineFeatures
 * answer, or an Answer (a write's counts as a WriteResponse in proto3 JSON, or a typed error).
 */
export type ClientAnswer = Answer | { readonly rows: readonly OnlineRowsView[] };

function requestsTimestamps(vector: Vector): boolean {
  return (vector.request as { includeEventTimestamps?: boolean }).includeEventTimestamps === true;
}

/**
 * The rows view of the vector's expected response; without `type` for a client whose answer carries
 * none (Python's dicts: there the form of each value shows its type).
 */
export function expectedRows(vector: Vector, nowMillis: number, typed: boolean): unknown {
  const rows = onlineRowsFromJson(substituteNow(vector.expect, nowMillis).response ?? {}, requestsTimestamps(vector));
  return typed ? rows : rows.map(({ ref, rows: r }) => ({ ref, rows: r }));
}

/** A value as plain JSON (what a runner in another language wrote), so that key order and -0 do not count. */
function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/** Why a client-level answer does not meet the vector (rows compared in the rows view), or undefined. */
export function clientMismatch(
  vector: Vector,
  answer: ClientAnswer,
  nowMillis: number,
  typed: boolean,
): string | undefined {
  if (!('rows' in answer)) return mismatch(vector, answer, nowMillis);
  if (vector.expect.error !== undefined) return 'expected an error, got rows';
  return isDeepStrictEqual(asJson(answer.rows), asJson(expectedRows(vector, nowMillis, typed)))
    ? undefined
    : 'rows differ';
}

/** clientMismatch's report: the vector, why, the expected and the actual answer (rows view or status). */
export function clientReport(
  runner: string,
  vector: Vector,
  why: string,
  answer: ClientAnswer,
  nowMillis: number,
  typed: boolean,
): string {
  if (!('rows' in answer)) return report(runner, vector, why, answer, nowMillis);
  const want = vector.expect.error ?? expectedRows(vector, nowMillis, typed);
  return [
    `[${runner}] vector ${vector.name} (${vector.file}): ${why}`,
    `  expected: ${JSON.stringify(want)}`,
    `  actual:   ${JSON.stringify(answer.rows)}`,
  ].join('\n');
}
