import { formatProblems, parseRepository, type Definitions } from '@tessera/core';

/** Definitions from inline YAML files (path → text); throws with every problem when they are invalid. */
export function definitionsFromYaml(files: Record<string, string>): Definitions {
  const { definitions, problems } = parseRepository(Object.entries(files).map(([path, text]) => ({ path, text })));
  if (!definitions || problems.length > 0) throw new Error(formatProblems(problems));
  return definitions;
}
