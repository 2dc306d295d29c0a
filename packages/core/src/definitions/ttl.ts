/** TTLs as data scientists write them: `90s`, `15m`, `12h`, `30d`, `2w`, `1h30m`, or `0` for never. */

const UNIT_SECONDS: Readonly<Record<string, number>> = { w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1 };
const TTL_PATTERN = /^(?:\d+[wdhms])+$/;
const TTL_PART = /(\d+)([wdhms])/g;

/** Result of parseTtl: seconds, or the reason the text is not a TTL. */
export type TtlParseResult =
  { readonly ok: true; readonly seconds: number } | { readonly ok: false; readonly error: string };

/** Parses a TTL string into seconds. `0` means values never expire. */
export function parseTtl(text: string): TtlParseResult {
  const trimmed = text.trim();
  if (trimmed === '0') return { ok: true, seconds: 0 };
  if (!TTL_PATTERN.test(trimmed)) {
    const hint = /^\d+$/.test(trimmed) ? `; add a unit (e.g. ${trimmed}s) or use ttl_seconds` : '';
    return {
      ok: false,
      error: `malformed TTL "${text}": use a number with a unit s, m, h, d or w (90s, 15m, 12h, 30d, 1h30m), or 0 for never${hint}`,
    };
  }
  let seconds = 0;
  for (const match of trimmed.matchAll(TTL_PART)) {
    seconds += Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] ?? 1);
  }
  if (!Number.isSafeInteger(seconds)) return { ok: false, error: `TTL "${text}" is too large` };
  return { ok: true, seconds };
}

/** Formats seconds the way parseTtl reads them: 2592000 → `30d`, 5400 → `1h30m`, 0 → `0`. */
export function formatTtl(seconds: number): string {
  if (seconds === 0) return '0';
  let rest = seconds;
  let text = '';
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    if (unit === 'w' && rest % size !== 0) continue; // 10d reads better than 1w3d
    const count = Math.floor(rest / size);
    if (count > 0) {
      text += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return text;
}
