import { readFileSync } from 'node:fs';

/**
 * Source of `lua/lww-write-1.lua`, the one copy of the script. It is read from `src/lua/` both
 * when running from `src/` (tests) and from `dist/` (the package ships `src/lua`, see `files`).
 */
export const LWW_WRITE_LUA: string = readFileSync(new URL('../../src/lua/lww-write-1.lua', import.meta.url), 'utf8');

/** Replies of the script. */
export const LWW_APPLIED = 1;
export const LWW_STALE = 0;
/** Accepted, but already past its retention on an absent key: nothing stored. */
export const LWW_PAST_RETENTION = 2;
