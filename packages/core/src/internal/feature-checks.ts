import type { FeatureDef, FeatureValue, ValueType } from '../model.js';
import { formatValue } from '../values.js';

/**
 * Constraint checks of one feature, compiled once per view (allowed values become a Set).
 * Rules, in the order they are checked (a cell reports only its first problem):
 * - double: NaN unless allow_nan, ±Infinity always; min/max; allowed_values.
 * - int64, timestamp: min/max (int64 compared exactly as bigint against the number bound);
 *   allowed_values for int64.
 * - string: valid Unicode (no lone surrogate, which UTF-8 cannot hold); max_length in Unicode
 *   code points; allowed_values.
 * - bytes: max_length in bytes.
 * - lists: dimension (exact length when > 0); max_length (element count); then each element:
 *   NaN/±Infinity (float/double lists), min/max (numeric lists), allowed_values (int64/string
 *   lists), valid Unicode (string lists). Element problems name the element index.
 * - not_null is checked by the caller (it also covers absent columns).
 */
export interface FeatureChecks {
  readonly name: string;
  readonly type: ValueType;
  readonly notNull: boolean;
  /** The first problem of a non-null value, or undefined when it passes. */
  check(value: NonNullable<FeatureValue>): string | undefined;
}

const LONE_SURROGATE = /\p{Cs}/u;
const MAX_LISTED_ALLOWED = 10;

/** Compiles the checks of one feature. */
export function compileFeatureChecks(feature: FeatureDef): FeatureChecks {
  const c = feature.constraints;
  const min = c.min;
  const max = c.max;
  const allowNaN = c.allowNaN;
  const maxLength = c.maxLength;
  const dimension = feature.dimension;
  const allowed = compileAllowed(feature);
  const allowedText =
    c.allowedValues === undefined
      ? ''
      : c.allowedValues.slice(0, MAX_LISTED_ALLOWED).map(formatValue).join(', ') +
        (c.allowedValues.length > MAX_LISTED_ALLOWED ? `, … (${c.allowedValues.length} in all)` : '');

  const checkNumber = (v: number | bigint): string | undefined => {
    if (typeof v === 'number') {
      if (Number.isNaN(v)) return allowNaN ? undefined : 'NaN is not allowed (allow_nan is false)';
      if (v === Infinity || v === -Infinity) return `${v} is not allowed`;
    }
    if (min !== undefined && v < min) return `${formatValue(v)} is below min ${min}`;
    if (max !== undefined && v > max) return `${formatValue(v)} is above max ${max}`;
    if (allowed !== undefined && !allowed.has(v))
      return `${formatValue(v)} is not one of the allowed values ${allowedText}`;
    return undefined;
  };
  const checkString = (s: string): string | undefined => {
    if (LONE_SURROGATE.test(s)) return `${formatValue(s)} is not valid Unicode (lone surrogate)`;
    if (allowed !== undefined && !allowed.has(s))
      return `${formatValue(s)} is not one of the allowed values ${allowedText}`;
    return undefined;
  };
  const checkLength = (length: number, what: string): string | undefined => {
    if (dimension > 0 && length !== dimension) return `${what} does not match dimension ${dimension}`;
    if (maxLength !== undefined && length > maxLength) return `${what} is longer than max_length ${maxLength}`;
    return undefined;
  };
  const checkElements = <T>(list: ArrayLike<T>, checkElement: (v: T) => string | undefined): string | undefined => {
    for (let i = 0; i < list.length; i++) {
      const problem = checkElement(list[i] as T);
      if (problem !== undefined) return `element ${i}: ${problem}`;
    }
    return undefined;
  };

  let check: (value: NonNullable<FeatureValue>) => string | undefined;
  switch (feature.type) {
    case 'int64':
    case 'double':
    case 'timestamp':
      check = (v) => checkNumber(v as number | bigint);
      break;
    case 'bool':
      check = () => undefined;
      break;
    case 'string':
      check = (v) => {
        const s = v as string;
        // Code points ≤ UTF-16 units, so count them only when the string might be too long.
        if (maxLength !== undefined && s.length > maxLength) {
          const chars = [...s].length;
          if (chars > maxLength) return `string of ${chars} characters is longer than max_length ${maxLength}`;
        }
        return checkString(s);
      };
      break;
    case 'bytes':
      check = (v) => {
        const length = (v as Uint8Array).length;
        return maxLength !== undefined && length > maxLength
          ? `${length} bytes is longer than max_length ${maxLength}`
          : undefined;
      };
      break;
    case 'float_list':
    case 'double_list':
    case 'int64_list':
      check = (v) => {
        const list = v as Float32Array | Float64Array | BigInt64Array;
        return checkLength(list.length, `list of ${list.length} elements`) ?? checkElements(list, checkNumber);
      };
      break;
    case 'string_list':
      check = (v) => {
        const list = v as readonly string[];
        return checkLength(list.length, `list of ${list.length} elements`) ?? checkElements(list, checkString);
      };
      break;
  }
  return { name: feature.name, type: feature.type, notNull: c.notNull, check };
}

function compileAllowed(feature: FeatureDef): Set<unknown> | undefined {
  const values = feature.constraints.allowedValues;
  if (values === undefined || values.length === 0) return undefined;
  switch (feature.type) {
    case 'int64':
    case 'int64_list':
      // Set membership is by SameValueZero, so int64 values are compared as bigint.
      return new Set(
        values.flatMap((v) =>
          typeof v === 'bigint' ? [v] : typeof v === 'number' && Number.isInteger(v) ? [BigInt(v)] : [],
        ),
      );
    case 'double':
      return new Set(values.flatMap((v) => (typeof v === 'number' ? [v] : typeof v === 'bigint' ? [Number(v)] : [])));
    case 'string':
    case 'string_list':
      return new Set(values.filter((v) => typeof v === 'string'));
    case 'bool':
    case 'timestamp':
    case 'bytes':
    case 'float_list':
    case 'double_list':
      // Not supported for these types (the definitions loader rejects them); nothing to check.
      return undefined;
  }
}
