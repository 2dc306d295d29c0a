/** Entity values as ClickHouse TabSeparated text (the inline entity upload: values never enter SQL text). */
import type { FeatureValue, ValueType } from '@tessera/core';
import { isListType } from '../ddl.js';

/** DateTime64(3) holds 1900-01-01 … 2299-12-31T23:59:59.999 UTC. */
export const MIN_TS_MILLIS = Date.UTC(1900, 0, 1);
export const MAX_TS_MILLIS = Date.UTC(2300, 0, 1) - 1;

/** The range of ClickHouse's Int64. */
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** A string as a TabSeparated field (backslash escapes). */
export function escapeTsv(text: string): string {
  return text.replace(/[\\\t\n\r\0]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0',
  );
}

function quoteInArray(text: string): string {
  return `'${text.replace(/[\\'\t\n\r\0]/g, (c) =>
    c === '\\' ? '\\\\' : c === "'" ? "\\'" : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0',
  )}'`;
}

function floatText(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0';
  return String(x);
}

/** `YYYY-MM-DD hh:mm:ss.sss` in UTC (the caller checked the range). */
export function dateTime64Text(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** TSV text of a passthrough value, or undefined when the value does not have the column's type. */
export function valueText(type: ValueType, value: FeatureValue): string | undefined {
  if (value === null) return isListType(type) ? '[]' : '\\N';
  switch (type) {
    case 'int64':
      return typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX ? value.toString() : undefined;
    case 'double':
      return typeof value === 'number' ? floatText(value) : undefined;
    case 'string':
      return typeof value === 'string' ? escapeTsv(value) : undefined;
    case 'bool':
      return typeof value === 'boolean' ? (value ? 'true' : 'false') : undefined;
    case 'timestamp':
      return typeof value === 'number' && Number.isInteger(value) && value >= MIN_TS_MILLIS && value <= MAX_TS_MILLIS
        ? dateTime64Text(value)
        : undefined;
    case 'bytes':
      return value instanceof Uint8Array ? hexOf(value) : undefined;
    case 'float_list':
      return value instanceof Float32Array ? `[${Array.from(value, floatText).join(',')}]` : undefined;
    case 'double_list':
      return value instanceof Float64Array ? `[${Array.from(value, floatText).join(',')}]` : undefined;
    case 'int64_list':
      return value instanceof BigInt64Array ? `[${Array.from(value, (v) => v.toString()).join(',')}]` : undefined;
    case 'string_list':
      return Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? escapeTsv(`[${(value as readonly string[]).map(quoteInArray).join(',')}]`)
        : undefined;
  }
}
