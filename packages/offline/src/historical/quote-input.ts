/** Most characters of caller input an error message quotes. */
const MAX_QUOTED_CHARS = 200;

/**
 * Caller input as an error message shows it: JSON-quoted, at most {@link MAX_QUOTED_CHARS}
 * characters, then its length when longer (a message never echoes unbounded input).
 */
export function quoteInput(text: string): string {
  if (text.length <= MAX_QUOTED_CHARS) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, MAX_QUOTED_CHARS))}… (${text.length} characters)`;
}
