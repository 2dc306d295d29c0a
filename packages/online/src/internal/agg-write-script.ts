import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LWW_WRITE_LUA } from './lww-write-script.js';

const LWW_FUNCTION_END = '-- end of lww_write\n';

/** The text of lww-write-1.lua that defines `lww_write` (everything before its marker line). */
function lwwFunctionText(): string {
  const end = LWW_WRITE_LUA.indexOf(LWW_FUNCTION_END);
  if (end < 0) throw new Error('lww-write-1.lua has no "-- end of lww_write" marker');
  return LWW_WRITE_LUA.slice(0, end + LWW_FUNCTION_END.length);
}

/**
 * A Redis Functions library that registers agg-write-2.lua's `agg_write` (design §3.3). Library and
 * function names carry a hash of the text, so two server versions (a rolling upgrade) each load and
 * call their own and never replace each other's.
 */
export interface AggWriteLibrary {
  /** The library's name (`FUNCTION DELETE` takes it): `tessera_agg_<hash>`. */
  readonly name: string;
  /** The function to FCALL: `tessera_agg_write_<hash>`. */
  readonly functionName: string;
  /** What `FUNCTION LOAD` takes. */
  readonly code: string;
}

/** The library of `aggText` (agg-write-2.lua or a test's copy): lww-write-1.lua's `lww_write`, the file, the registration. */
export function aggWriteLibrary(aggText: string): AggWriteLibrary {
  const body = lwwFunctionText() + aggText;
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const name = `tessera_agg_${hash}`;
  const functionName = `tessera_agg_write_${hash}`;
  const code = `#!lua name=${name}\n${body}\nredis.register_function('${functionName}', agg_write)\n`;
  return { name, functionName, code };
}

/** The script's file, read like lww-write-1.lua (from `src/lua/`, also when running from `dist/`). */
export const AGG_WRITE_FILE_TEXT: string = readFileSync(
  new URL('../../src/lua/agg-write-2.lua', import.meta.url),
  'utf8',
);

/** The library the store loads and calls. */
export const AGG_WRITE_LIBRARY: AggWriteLibrary = aggWriteLibrary(AGG_WRITE_FILE_TEXT);

/** Clock-skew margin kept on top of L in the dedup set (§1.6). */
export const DEDUP_MARGIN_MILLIS = 60_000;

/** ARGV index (1-based) of the first event record. */
export const AGG_FIRST_EVENT_ARG = 13;
