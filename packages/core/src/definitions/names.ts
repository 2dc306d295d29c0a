/**
 * Naming rules shared by definitions and refs. Names become Redis fields, ClickHouse table and
 * column names and proto map keys, so one strict rule avoids quoting everywhere downstream.
 */

/** Names of projects, entities, join keys, feature views, features and feature services. */
export const IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]*$/;

/** Longest allowed name; ClickHouse table names are built from a view name plus a version. */
export const MAX_IDENTIFIER_LENGTH = 63;

/** Columns every offline table has; a feature or join key may not use these names. */
export const RESERVED_COLUMN_NAMES: readonly string[] = ['event_ts', 'created_ts'];

/** Why `name` is not a valid identifier, or undefined when it is. */
export function identifierProblem(name: string): string | undefined {
  if (name === '') return 'name is empty';
  if (name.length > MAX_IDENTIFIER_LENGTH) {
    return `name "${name}" is longer than ${MAX_IDENTIFIER_LENGTH} characters`;
  }
  if (!IDENTIFIER_PATTERN.test(name)) {
    return `name "${name}" is not a valid identifier: use lowercase letters, digits and _ and do not start with a digit (${IDENTIFIER_PATTERN.source})`;
  }
  if (name.startsWith('__')) return `name "${name}" starts with "__", which is reserved`;
  return undefined;
}

/** Like identifierProblem, and also rejects reserved column names (for features and join keys). */
export function columnNameProblem(name: string): string | undefined {
  const problem = identifierProblem(name);
  if (problem !== undefined) return problem;
  if (RESERVED_COLUMN_NAMES.includes(name)) {
    return `name "${name}" is reserved (reserved column names: ${RESERVED_COLUMN_NAMES.join(', ')})`;
  }
  return undefined;
}
