/**
 * How input appears in error messages. A message that echoes input whole lets one request blow up
 * its own status (a 100 KB ref once came back inside the error and stalled the channel), so every
 * quoted piece of input is cut to {@link MAX_QUOTED_CHARS} characters, then its length.
 */

/** Most characters of one piece of input an error message shows. */
export const MAX_QUOTED_CHARS = 200;

/**
 * `s` as a JSON string literal, at most {@link MAX_QUOTED_CHARS} characters of it, then `… (N chars)`:
 * `"customer_stats:x"`, `"aaaa…" (100000 chars)`. Never splits a surrogate pair.
 */
export function quoteInput(s: string, maxChars: number = MAX_QUOTED_CHARS): string {
  if (s.length <= maxChars) return JSON.stringify(s);
  let end = maxChars;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${JSON.stringify(`${s.slice(0, end)}…`)} (${s.length} chars)`;
}

/** A name (column, view, key) as it appears in a message: as is when short and plain, else quoted and cut. */
export function showName(s: string): string {
  return s.length <= MAX_QUOTED_CHARS && /^[\w@:.*-]*$/.test(s) ? s : quoteInput(s);
}
