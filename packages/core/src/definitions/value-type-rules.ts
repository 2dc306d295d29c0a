/** Which constraints make sense for which value type, and friendly hints for unknown type names. */
import { JOIN_KEY_TYPES, VALUE_TYPES, type ValueType } from '../model.js';

export const LIST_TYPES: ReadonlySet<ValueType> = new Set(['float_list', 'double_list', 'int64_list', 'string_list']);
/** min/max apply to the value, or to each element of a numeric list. */
export const MIN_MAX_TYPES: ReadonlySet<ValueType> = new Set([
  'int64',
  'double',
  'float_list',
  'double_list',
  'int64_list',
]);
/** allowed_values apply to the value, or to each element of a string/int64 list. */
export const ALLOWED_VALUES_TYPES: ReadonlySet<ValueType> = new Set([
  'string',
  'int64',
  'double',
  'string_list',
  'int64_list',
]);
export const MAX_LENGTH_TYPES: ReadonlySet<ValueType> = new Set([
  'string',
  'bytes',
  'float_list',
  'double_list',
  'int64_list',
  'string_list',
]);
export const NAN_TYPES: ReadonlySet<ValueType> = new Set(['double', 'float_list', 'double_list']);

const TYPE_ALIASES: Readonly<Record<string, ValueType>> = {
  int: 'int64',
  int32: 'int64',
  integer: 'int64',
  long: 'int64',
  float: 'double',
  float32: 'double',
  float64: 'double',
  number: 'double',
  str: 'string',
  text: 'string',
  boolean: 'bool',
  datetime: 'timestamp',
  date: 'timestamp',
  embedding: 'float_list',
  vector: 'float_list',
  binary: 'bytes',
};

export function isValueType(type: unknown): type is ValueType {
  return typeof type === 'string' && (VALUE_TYPES as readonly string[]).includes(type);
}

export function isJoinKeyType(type: unknown): boolean {
  return typeof type === 'string' && (JOIN_KEY_TYPES as readonly string[]).includes(type);
}

/** `unknown type "float32" (did you mean double?); valid types: int64, double, …`. */
export function unknownTypeMessage(type: unknown): string {
  const alias = typeof type === 'string' ? TYPE_ALIASES[type.toLowerCase()] : undefined;
  const hint = alias === undefined ? '' : ` (did you mean ${alias}?)`;
  return `unknown type ${JSON.stringify(type)}${hint}; valid types: ${VALUE_TYPES.join(', ')}`;
}

/** The type of one element (lists) or of the value itself (scalars), for allowed_values checks. */
export function elementType(type: ValueType): ValueType {
  switch (type) {
    case 'float_list':
    case 'double_list':
      return 'double';
    case 'int64_list':
      return 'int64';
    case 'string_list':
      return 'string';
    case 'int64':
    case 'double':
    case 'string':
    case 'bool':
    case 'timestamp':
    case 'bytes':
      return type;
  }
}
