import type { EntitySourceDef } from '../model.js';
import { ENTITY_SOURCE_PARAM_TYPES } from '../model.js';
import { identifierProblem } from './names.js';
import type { AddProblem } from './validate-feature.js';

/** Longest entity source SQL, in characters: the offline SQL guard's limit (MAX_ENTITY_SQL_CHARS). */
export const MAX_ENTITY_SOURCE_SQL_CHARS = 100_000;

/**
 * An entity source: a valid name, non-empty SQL within {@link MAX_ENTITY_SOURCE_SQL_CHARS}, and
 * parameters with unique identifier names and known types. What the SQL may read is checked by
 * the server (the offline SQL guard) when it applies the definitions.
 */
export function validateEntitySource(source: EntitySourceDef, path: string, add: AddProblem): void {
  const nameProblem = identifierProblem(source.name);
  if (nameProblem !== undefined) add(`${path}.name`, `entity source ${nameProblem}`);
  const what = `entity source ${source.name}`;
  if (typeof source.description !== 'string') add(`${path}.description`, `${what}: description must be a string`);
  if (typeof source.owner !== 'string') add(`${path}.owner`, `${what}: owner must be a string`);
  if (typeof source.sql !== 'string' || source.sql.trim() === '') {
    add(`${path}.sql`, `${what}: sql is empty; write one SELECT returning the join keys and event_ts`);
  } else if (source.sql.length > MAX_ENTITY_SOURCE_SQL_CHARS) {
    add(
      `${path}.sql`,
      `${what}: sql is ${source.sql.length} characters long; the limit is ${MAX_ENTITY_SOURCE_SQL_CHARS}`,
    );
  }
  source.params.forEach((param, j) => {
    const paramPath = `${path}.params[${j}]`;
    const problem = identifierProblem(param.name);
    if (problem !== undefined) add(`${paramPath}.name`, `${what}: parameter ${problem}`);
    else if (source.params.findIndex((p) => p.name === param.name) !== j) {
      add(`${paramPath}.name`, `${what}: duplicate parameter name "${param.name}"`);
    }
    if (!(ENTITY_SOURCE_PARAM_TYPES as readonly string[]).includes(param.type)) {
      add(
        `${paramPath}.type`,
        `${what}: parameter ${param.name}: unknown type ${JSON.stringify(param.type)} (use one of ${ENTITY_SOURCE_PARAM_TYPES.join(', ')})`,
      );
    }
  });
}
