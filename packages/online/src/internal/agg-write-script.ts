import { readFileSync } from 'node:fs';
import { LWW_WRITE_LUA } from './lww-write-script.js';

const LWW_FUNCTION_END = '-- end of lww_write\n';

/** The text of lww-write-1.lua that defines `lww_write` (everything before its marker line). */
function lwwFunctionText(): string {
  const end = LWW_WRITE_LUA.indexOf(LWW_FUNCTION_END);
  if (end < 0) throw new Error('lww-write-1.lua has no "-- end of lww_write" marker');
  return LWW_WRITE_LUA.slice(0, end + LWW_FUNCTION_END.length);
}

/** Source of `lua/agg-write-2.lua` as run: lww-write-1.lua's `lww_write` function, then the file. */
export function aggWriteLua(aggText: string): string {
  return lwwFunctionText() + aggText;
}

/** The script's file, read like lww-write-1.lua (from `src/lua/`, also when running from `dist/`). */
export const AGG_WRITE_FILE_TEXT: string = readFileSync(
  new URL('../../src/lua/agg-write-2.lua', import.meta.url),
  'utf8',
);

/** The script sent to Redis. */
export const AGG_WRITE_LUA: string = aggWriteLua(AGG_WRITE_FILE_TEXT);

/** Clock-skew margin kept on top of L in the dedup set (§1.6). */
export const DEDUP_MARGIN_MILLIS = 60_000;

/** ARGV index (1-based) of the first event record. */
export const AGG_FIRST_EVENT_ARG = 13;
