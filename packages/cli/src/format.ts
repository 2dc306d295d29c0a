import { formatTimestamp } from '@tessera/core/basics';
import type { FeatureValue, JoinKeyValue, ValueType } from '@tessera/core/basics';
import type { OnlineFeatures } from '@tessera/client';

/** A value as JSON: int64 as a number when exact (else a string), timestamps as ISO strings, bytes as base64. */
export function jsonValue(value: FeatureValue, type: ValueType): unknown {
  if (value === null) return null;
  if (type === 'timestamp') return formatTimestamp(value as number);
  if (typeof value === 'bigint') return bigintJson(value);
  if (value instanceof BigInt64Array) return Array.from(value, bigintJson);
  if (value instanceof Float32Array) return Array.from(value, shortestFloat32);
  if (value instanceof Float64Array) return Array.from(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

/** The shortest decimal that reads back as the same float32 (0.0878, not 0.08780000358819962). */
function shortestFloat32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(x.toPrecision(digits));
    if (Math.fround(candidate) === x) return candidate;
  }
  return x;
}

function bigintJson(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/** A value as one table cell. */
export function cellText(value: FeatureValue, type: ValueType): string {
  const json = jsonValue(value, type);
  if (json === null) return '';
  if (typeof json === 'string') return json;
  if (Array.isArray(json)) {
    const items = (json as unknown[]).map((x) => (typeof x === 'number' ? Number(x.toPrecision(6)) : x));
    return JSON.stringify(items.length > 6 ? [...items.slice(0, 6), '…'] : items);
  }
  return JSON.stringify(json);
}

/** Output column names: refs without their version unless the request pinned one. */
export function displayRefs(refs: readonly string[], requested: readonly string[]): string[] {
  const pinned = requested.some((r) => r.includes('@'));
  return refs.map((ref) => (pinned ? ref : ref.replace(/@\d+:/, ':')));
}

/** The `--json` form: one object per entity with its join keys, each ref's value, and `status`. */
export function toJsonRows(
  keys: ReadonlyMap<string, readonly JoinKeyValue[]>,
  result: OnlineFeatures,
  names: readonly string[],
  rows: number,
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < rows; i++) {
    const row: Record<string, unknown> = {};
    for (const [name, values] of keys) {
      const v = values[i]!;
      row[name] = typeof v === 'bigint' ? bigintJson(v) : v;
    }
    const status: Record<string, string> = {};
    names.forEach((name, f) => {
      row[name] = jsonValue(result.values[f]![i] ?? null, result.types[f]!);
      status[name] = result.statuses[f]![i]!;
    });
    row['status'] = status;
    out.push(row);
  }
  return out;
}

/** A plain text table with a header row. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `name  value` lines, names padded to one width: a table without a header. */
export function keyValueLines(rows: readonly (readonly string[])[]): string {
  const width = Math.max(0, ...rows.map((r) => (r[0] ?? '').length));
  return rows.map((r) => `${(r[0] ?? '').padEnd(width)}  ${r[1] ?? ''}`.trimEnd()).join('\n');
}
