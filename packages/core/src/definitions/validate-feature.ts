/** Rules of one feature of a view (name, type, dimension, constraints, allowed values). */
import type { FeatureDef } from '../model.js';
import { columnNameProblem } from './names.js';
import {
  ALLOWED_VALUES_TYPES,
  LIST_TYPES,
  MAX_LENGTH_TYPES,
  MIN_MAX_TYPES,
  NAN_TYPES,
  elementType,
  isValueType,
  unknownTypeMessage,
} from './value-type-rules.js';

/** Records a problem at a path (YAML spelling). */
export type AddProblem = (path: string, message: string) => void;

/** The rules of one feature: its name, type, dimension and constraints. */
export function validateFeature(feature: FeatureDef, path: string, what: string, add: AddProblem): void {
  const nameProblem = columnNameProblem(feature.name);
  if (nameProblem !== undefined) add(`${path}.name`, `${what}: feature ${nameProblem}`);
  validateStrings(feature.description, feature.tags, path, what, add);
  const type = feature.type;
  if (!isValueType(type)) {
    add(`${path}.type`, `${what}: ${unknownTypeMessage(type)}`);
    return; // the type-dependent rules below would only repeat the same mistake
  }
  if (!Number.isSafeInteger(feature.dimension) || feature.dimension < 0) {
    add(`${path}.dimension`, `${what}: dimension ${String(feature.dimension)} must be a whole number >= 0`);
  } else if (feature.dimension !== 0 && !LIST_TYPES.has(type)) {
    add(
      `${path}.dimension`,
      `${what}: dimension applies only to list types (${[...LIST_TYPES].join(', ')}), not ${type}`,
    );
  }

  const c = feature.constraints;
  if (typeof c.notNull !== 'boolean') add(`${path}.not_null`, `${what}: not_null must be true or false`);
  for (const bound of ['min', 'max'] as const) {
    const value = c[bound];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      add(`${path}.${bound}`, `${what}: ${bound} must be a finite number`);
    } else if (!MIN_MAX_TYPES.has(type)) {
      add(`${path}.${bound}`, `${what}: ${bound} applies only to ${[...MIN_MAX_TYPES].join(', ')}, not ${type}`);
    }
  }
  if (typeof c.min === 'number' && typeof c.max === 'number' && c.min > c.max) {
    add(`${path}.min`, `${what}: min ${c.min} is greater than max ${c.max}`);
  }
  if (c.maxLength !== undefined) {
    if (!Number.isSafeInteger(c.maxLength) || c.maxLength < 0) {
      add(`${path}.max_length`, `${what}: max_length ${String(c.maxLength)} must be a whole number >= 0`);
    } else if (!MAX_LENGTH_TYPES.has(type)) {
      add(`${path}.max_length`, `${what}: max_length applies only to ${[...MAX_LENGTH_TYPES].join(', ')}, not ${type}`);
    }
  }
  if (typeof c.allowNaN !== 'boolean') {
    add(`${path}.allow_nan`, `${what}: allow_nan must be true or false`);
  } else if (c.allowNaN && !NAN_TYPES.has(type)) {
    add(`${path}.allow_nan`, `${what}: allow_nan applies only to ${[...NAN_TYPES].join(', ')}, not ${type}`);
  }
  if (c.allowedValues !== undefined) validateAllowedValues(feature, path, what, add);
}

function validateAllowedValues(feature: FeatureDef, path: string, what: string, add: AddProblem): void {
  const values = feature.constraints.allowedValues ?? [];
  const type = feature.type;
  if (!ALLOWED_VALUES_TYPES.has(type)) {
    add(
      `${path}.allowed_values`,
      `${what}: allowed_values applies only to ${[...ALLOWED_VALUES_TYPES].join(', ')}, not ${type}`,
    );
    return;
  }
  if (values.length === 0) {
    add(`${path}.allowed_values`, `${what}: allowed_values is empty; remove it or list at least one value`);
    return;
  }
  const element = elementType(type);
  const { min, max } = feature.constraints;
  const seen = new Set<string>();
  values.forEach((value, j) => {
    const valuePath = `${path}.allowed_values[${j}]`;
    if (!allowedValueFits(value, element)) {
      add(
        valuePath,
        `${what}: allowed value ${describeValue(value)} is not a${element === 'int64' ? 'n' : ''} ${element}`,
      );
      return;
    }
    const key = `${typeof value}:${String(value)}`;
    if (seen.has(key)) add(valuePath, `${what}: allowed value ${describeValue(value)} is listed twice`);
    seen.add(key);
    if (typeof value !== 'string') {
      const n = Number(value);
      if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
        add(valuePath, `${what}: allowed value ${describeValue(value)} is outside min/max`);
      }
    }
  });
}

function allowedValueFits(value: unknown, element: string): boolean {
  switch (element) {
    case 'string':
      return typeof value === 'string';
    case 'int64':
      return typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value));
    case 'double':
      return typeof value === 'number' && Number.isFinite(value);
    default:
      return false;
  }
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** The description and tags every object carries: a string, and a map of names to strings. */
export function validateStrings(
  description: unknown,
  tags: unknown,
  path: string,
  what: string,
  add: AddProblem,
): void {
  if (typeof description !== 'string') add(`${path}.description`, `${what}: description must be a string`);
  if (typeof tags !== 'object' || tags === null) {
    add(`${path}.tags`, `${what}: tags must be a map of names to strings`);
    return;
  }
  for (const [key, value] of Object.entries(tags)) {
    if (typeof value !== 'string') add(`${path}.tags.${key}`, `${what}: tag ${key} must be a string`);
  }
}
