/**
 * Reads the configuration from its three sources and validates it once: flags over environment
 * over file over defaults. Every problem of every source is collected, so one run lists them all,
 * each with the path of the bad value and where it came from.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { TesseraError, type Problem } from '@tessera/core';
import { configSchema, type TesseraConfig } from './schema.js';
import { SETTINGS, envName, parseSettingText, settingAt } from './settings.js';

/** A flag the user gave, and the configuration path it sets. */
export interface FlagSetting {
  /** As typed, e.g. `--max-batch-rows`; named in problems. */
  readonly flag: string;
  readonly path: string;
  /** The flag's text (parsed like the environment's) or a boolean for a switch. */
  readonly value: string | boolean;
}

/** Options of {@link loadConfiguration}. */
export interface LoadConfigurationOptions {
  /** YAML file (`--config`). */
  readonly file?: string;
  /** Variables to read; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  readonly flags?: readonly FlagSetting[];
}

/** A validated configuration and where each value set by the user came from. */
export interface LoadedConfiguration {
  readonly config: TesseraConfig;
  /** Dotted path → `file <path>`, `env <NAME>` or `flag <--name>`; absent = default. */
  readonly sources: ReadonlyMap<string, string>;
}

/** Prefix of the message of the error {@link loadConfiguration} throws. */
export const CONFIGURATION_ERROR_PREFIX = 'invalid configuration';

/** True for the error of a configuration that does not validate (the CLI exits 2 on it). */
export function isConfigurationError(error: unknown): error is TesseraError {
  return (
    error instanceof Error && error.name === 'TesseraError' && error.message.startsWith(CONFIGURATION_ERROR_PREFIX)
  );
}

/**
 * The effective configuration. Throws INVALID_ARGUMENT ({@link isConfigurationError}) listing every
 * problem as a {@link Problem}: `file` names the source, `path` the setting.
 */
export function loadConfiguration(options: LoadConfigurationOptions = {}): LoadedConfiguration {
  const problems: Problem[] = [];
  const raw: Record<string, unknown> = {};
  const sources = new Map<string, string>();

  if (options.file !== undefined) {
    const fromFile = readConfigFile(options.file, problems);
    if (fromFile !== undefined) {
      Object.assign(raw, fromFile);
      for (const path of leafPaths(fromFile)) sources.set(path, `file ${options.file}`);
    }
  }

  const env = options.env ?? process.env;
  for (const setting of SETTINGS) {
    const name = [envName(setting.path), ...(setting.aliases ?? [])].find((n) => (env[n] ?? '') !== '');
    if (name === undefined) continue;
    setPath(raw, setting.path, parseSettingText(setting.kind, env[name]!));
    forgetBelow(sources, setting.path);
    sources.set(setting.path, `env ${name}`);
  }

  for (const flag of options.flags ?? []) {
    const setting = settingAt(flag.path);
    if (setting?.secret === true && carriesSecret(flag.path, flag.value)) {
      problems.push({
        file: `flag ${flag.flag}`,
        path: flag.path,
        message: `a secret on the command line is readable by every user of this machine: set ${envName(flag.path)} or put it in the --config file`,
      });
      continue;
    }
    const value =
      typeof flag.value === 'string' && setting !== undefined ? parseSettingText(setting.kind, flag.value) : flag.value;
    setPath(raw, flag.path, value);
    forgetBelow(sources, flag.path);
    sources.set(flag.path, `flag ${flag.flag}`);
  }

  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (parsed.success && problems.length === 0) return { config: parsed.data, sources };
  if (!parsed.success) problems.push(...parsed.error.issues.map((issue) => toProblem(issue, sources)));
  throw new TesseraError(
    'INVALID_ARGUMENT',
    `${CONFIGURATION_ERROR_PREFIX}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`,
    { details: problems },
  );
}

function readConfigFile(file: string, problems: Problem[]): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    problems.push({
      file: `file ${file}`,
      path: '',
      message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    });
    return undefined;
  }
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    for (const error of document.errors) {
      problems.push({ file: `file ${file}`, path: '', message: `not YAML: ${error.message.split('\n', 1)[0] ?? ''}` });
    }
    return undefined;
  }
  const value: unknown = document.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({
      file: `file ${file}`,
      path: '',
      message: 'must be a mapping of sections (server, backend, limits, ...)',
    });
    return undefined;
  }
  return value as Record<string, unknown>;
}

/** A ClickHouse URL is secret only with a password in it; other secret settings always are. */
function carriesSecret(path: string, value: string | boolean): boolean {
  if (path !== 'backend.clickhouseUrl' || typeof value !== 'string') return true;
  try {
    return new URL(value).password !== '';
  } catch {
    return false;
  }
}

/** Paths of the scalars and lists in a parsed file (a list counts as one value). */
function leafPaths(value: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, child]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    return child !== null && typeof child === 'object' && !Array.isArray(child)
      ? [path, ...leafPaths(child as Record<string, unknown>, path)]
      : [path];
  });
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/** A value set again replaces what the file had below it (a node list from a flag replaces the file's). */
function forgetBelow(sources: Map<string, string>, path: string): void {
  for (const key of [...sources.keys()]) if (key.startsWith(`${path}.`)) sources.delete(key);
}

function toProblem(issue: z.core.$ZodIssue, sources: ReadonlyMap<string, string>): Problem {
  const keys = issue.path.map(String);
  // An unknown key is reported at the key itself, not at its parent object.
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.length === 1
      ? problemAt([...keys, issue.keys[0]!], 'unknown setting', sources)
      : problemAt(keys, `unknown settings ${issue.keys.join(', ')}`, sources);
  }
  const secret = settingAt(keys.join('.'))?.secret === true;
  const shown =
    issue.input === undefined || secret || typeof issue.input === 'object' ? '' : `, got ${quote(issue.input)}`;
  return problemAt(keys, `${issue.message}${shown}`, sources);
}

/** Input in a message: at most 200 characters, then its length. */
function quote(input: unknown): string {
  const text = JSON.stringify(input) ?? String(input);
  return text.length <= 200 ? text : `${text.slice(0, 200)}... (${text.length} characters)`;
}

function problemAt(keys: readonly string[], message: string, sources: ReadonlyMap<string, string>): Problem {
  const path = keys.join('.');
  let source: string | undefined;
  for (let n = keys.length; n > 0 && source === undefined; n--) source = sources.get(keys.slice(0, n).join('.'));
  return { file: source ?? 'default', path, message };
}
