import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { TesseraError, formatProblems, parseRepository } from '@tessera/core';
import type { Definitions } from '@tessera/core';

/** Reads every *.yaml / *.yml file of a feature repository folder (recursively) and parses it. */
export async function loadRepository(dir: string): Promise<Definitions> {
  const paths = await listYaml(dir);
  if (paths.length === 0) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${dir}: no .yaml files found (a feature repository is a folder of YAML definitions)`,
    );
  }
  const files = await Promise.all(
    paths.map(async (path) => ({ path: relative(process.cwd(), path) || path, text: await readFile(path, 'utf8') })),
  );
  const { definitions, problems } = parseRepository(files);
  if (!definitions || problems.length > 0) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${problems.length} problem(s) in feature repository ${dir}:\n${formatProblems(problems)}`,
      {
        details: problems,
      },
    );
  }
  return definitions;
}

async function listYaml(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && entry.name !== 'data' && entry.name !== 'node_modules')
        out.push(...(await listYaml(path)));
    } else if (/\.ya?ml$/.test(entry.name)) {
      out.push(path);
    }
  }
  return out;
}
