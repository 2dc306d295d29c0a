/** Helpers the command modules share: the client factory, node lists, times and repeatable options. */
import { TIMESTAMP_FORMATS_HINT, TesseraError, parseTimestamp } from '@tessera/core/basics';
import type { TesseraClient } from '@tessera/client';

/** Builds a client from the program's global options (server, timeout, TLS, API key). */
export type ClientFactory = () => TesseraClient;

/**
 * The feature server's default port (its DEFAULT_PORT). Not imported: the server and the writer
 * (chDB, LMDB, BullMQ) load only for `serve` and `writer`, so client commands start in a fraction
 * of the time.
 */
export const DEFAULT_PORT = 6566;
export const DEFAULT_SERVER = `127.0.0.1:${DEFAULT_PORT}`;

/** Name of the event time column in CSV and JSONL files unless `--timestamp-column` says otherwise. */
export const DEFAULT_TIMESTAMP_COLUMN = 'event_ts';

/** A time given on the command line, or INVALID_ARGUMENT naming the option and the accepted forms. */
export function timestampOption(text: string, option: string): number {
  const millis = parseTimestamp(/^-?\d+$/.test(text) ? Number(text) : text);
  if (millis === undefined)
    throw new TesseraError('INVALID_ARGUMENT', `${option} "${text}" is not a time: use ${TIMESTAMP_FORMATS_HINT}`);
  return millis;
}

/** Commander reducer of a repeatable option. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Collects one `--param key=value` flag (repeatable) into `previous`; the value is text, parsed by
 * the server by the parameter's declared type.
 */
export function collectParam(flag: string, previous: Readonly<Record<string, string>>): Record<string, string> {
  const at = flag.indexOf('=');
  const key = at < 0 ? '' : flag.slice(0, at);
  if (at <= 0 || key.trim() !== key) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `--param ${JSON.stringify(flag.slice(0, 200))}: write key=value, e.g. --param start=2026-01-01T00:00:00Z`,
    );
  }
  if (Object.hasOwn(previous, key)) {
    throw new TesseraError('INVALID_ARGUMENT', `--param ${key} is given twice`);
  }
  return { ...previous, [key]: flag.slice(at + 1) };
}
