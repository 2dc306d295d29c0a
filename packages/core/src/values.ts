import type { FeatureValue, JoinKeyType, JoinKeyValue, ValueType } from './model.js';
import { quoteInput } from './quote.js';
import { parseTimestamp } from './timestamps.js';

/**
 * Conversion of values as they come from the wire decoder (or an in-process caller) into their
 * in-memory representation (`FeatureValue`), accepting a different JS type only where the
 * conversion loses nothing — and, for float lists, where it is the type's meaning:
 *
 * | type        | accepted                                                                  |
 * |-------------|---------------------------------------------------------------------------|
 * | int64       | bigint in int64 range; number that is a safe integer                      |
 * | double      | number (never bigint)                                                     |
 * | string      | string                                                                    |
 * | bool        | boolean                                                                   |
 * | timestamp   | integer epoch-ms number or bigint; string through `parseTimestamp`        |
 * | bytes       | Uint8Array (Buffer included)                                              |
 * | float_list  | Float32Array; Float64Array or number[] rounded to float32 (as the proto   |
 * |             | `repeated float` wire type does; out-of-range values become ±Infinity and |
 * |             | are then rejected by validation)                                          |
 * | double_list | Float64Array; Float32Array (widened exactly); number[]                    |
 * | int64_list  | BigInt64Array; array of bigint / safe-integer numbers                     |
 * | string_list | array of strings                                                          |
 *
 * null and undefined mean "no value". Typed arrays are kept, not copied.
 */

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Returned by {@link coerceFeatureValue} when the value's JS type does not fit the feature type. */
export const WRONG_TYPE: unique symbol = Symbol('wrong type');

/** The in-memory value of `raw` for a feature of `type`, null for no value, or {@link WRONG_TYPE}. */
export function coerceFeatureValue(type: ValueType, raw: unknown): FeatureValue | typeof WRONG_TYPE {
  if (raw === null || raw === undefined) return null;
  switch (type) {
    case 'int64':
      return toInt64(raw) ?? WRONG_TYPE;
    case 'double':
      return typeof raw === 'number' ? raw : WRONG_TYPE;
    case 'string':
      return typeof raw === 'string' ? raw : WRONG_TYPE;
    case 'bool':
      return typeof raw === 'boolean' ? raw : WRONG_TYPE;
    case 'timestamp':
      return typeof raw === 'number' || typeof raw === 'bigint' || typeof raw === 'string'
        ? (parseTimestamp(raw) ?? WRONG_TYPE)
        : WRONG_TYPE;
    case 'bytes':
      return raw instanceof Uint8Array ? raw : WRONG_TYPE;
    case 'float_list':
      if (raw instanceof Float32Array) return raw;
      return raw instanceof Float64Array || isArrayOf(raw, 'number') ? Float32Array.from(raw) : WRONG_TYPE;
    case 'double_list':
      if (raw instanceof Float64Array) return raw;
      return raw instanceof Float32Array || isArrayOf(raw, 'number') ? Float64Array.from(raw) : WRONG_TYPE;
    case 'int64_list':
      return raw instanceof BigInt64Array ? raw : toInt64List(raw);
    case 'string_list':
      return isArrayOf(raw, 'string') ? raw : WRONG_TYPE;
  }
}

/** The join key value of `raw` for a key of `type`: bigint for int64 keys; undefined when it does not fit. */
export function coerceJoinKey(type: JoinKeyType, raw: unknown): JoinKeyValue | undefined {
  return type === 'int64' ? toInt64(raw) : typeof raw === 'string' ? raw : undefined;
}

function toInt64(raw: unknown): bigint | undefined {
  if (typeof raw === 'bigint') return raw >= INT64_MIN && raw <= INT64_MAX ? raw : undefined;
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) return BigInt(raw);
  return undefined;
}

function toInt64List(raw: unknown): BigInt64Array | typeof WRONG_TYPE {
  if (!Array.isArray(raw)) return WRONG_TYPE;
  const list = new BigInt64Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const v = toInt64(raw[i]);
    if (v === undefined) return WRONG_TYPE;
    list[i] = v;
  }
  return list;
}

function isArrayOf(raw: unknown, elementType: 'number' | 'string'): raw is never[] {
  if (!Array.isArray(raw)) return false;
  for (const v of raw as unknown[]) if (typeof v !== elementType) return false;
  return true;
}

const MAX_SHOWN_CHARS = 40;

/**
 * A value as it appears in an error message: `7.5`, `-0`, `"gold"`, `42`, `true`, `null`, `12 bytes`,
 * `list of 3`; a long string is cut, then its length: `"aaaa…" (5000 chars)`.
 */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return quoteInput(v, MAX_SHOWN_CHARS);
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return `list of ${(v as ArrayLike<unknown>).length}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

/** A value with its JS kind, for "expected int64, got …" messages: `string "abc"`, `number 1.5`, `Float64Array (3)`. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') {
    if (Array.isArray(v)) return `array of ${v.length}`;
    if (ArrayBuffer.isView(v) && 'length' in v) return `${v.constructor.name} (${String(v.length)})`;
    return `object (${(v.constructor as { name?: string } | undefined)?.name ?? 'null prototype'})`;
  }
  return `${typeof v} ${formatValue(v)}`;
}
