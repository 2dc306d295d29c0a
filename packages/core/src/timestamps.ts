/**
 * Timestamps are integer milliseconds since the Unix epoch, UTC, everywhere in Tessera (the
 * offline store keeps `DateTime64(3, 'UTC')`). Parsing is deliberately narrow: a string without
 * a zone, a locale format, or a number that might be seconds is rejected rather than guessed.
 */

/** Largest |ms| a JavaScript Date (and `formatTimestamp`) can represent: ±100,000,000 days. */
export const MAX_TIMESTAMP_MILLIS = 8_640_000_000_000_000;

const MILLIS_PER_DAY = 86_400_000;

// 2024-03-01T10:00:00Z, 2024-03-01t10:00:00.5+02:00, 2024-03-01 10:00:00.123456-05:30
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** What {@link parseTimestamp} accepts, for error messages. */
export const TIMESTAMP_FORMATS_HINT =
  'an RFC 3339 time with a zone (2024-03-01T10:00:00Z, 2024-03-01T10:00:00.250+02:00; at most millisecond ' +
  'precision), a date (2024-03-01, UTC midnight) or integer epoch milliseconds';

/**
 * Parses a timestamp to epoch milliseconds, or undefined when the input is not one of:
 * - a number or bigint: integer epoch **milliseconds** (never seconds; no guessing by magnitude),
 *   within ±{@link MAX_TIMESTAMP_MILLIS};
 * - RFC 3339 / ISO 8601 date-time with `Z` or a `±hh:mm` offset, `T` (or a space) between date
 *   and time, years 0000–9999, optional fraction of a second: digits past the millisecond must be
 *   zero (`.123000` is fine, `.1234` is rejected rather than silently truncated); no leap second;
 * - a date `YYYY-MM-DD`, meaning midnight UTC.
 * Strings without a zone, digit-only strings and any other format are rejected.
 */
export function parseTimestamp(input: string | number | bigint): number | undefined {
  if (typeof input === 'number') {
    return Number.isInteger(input) && Math.abs(input) <= MAX_TIMESTAMP_MILLIS ? input + 0 : undefined;
  }
  if (typeof input === 'bigint') {
    return input >= -MAX_TIMESTAMP_MILLIS && input <= MAX_TIMESTAMP_MILLIS ? Number(input) : undefined;
  }
  if (typeof input !== 'string') return undefined;
  const dt = DATE_TIME.exec(input);
  if (dt !== null) return parseDateTime(dt);
  const d = DATE_ONLY.exec(input);
  if (d !== null) {
    const days = daysOf(Number(d[1]), Number(d[2]), Number(d[3]));
    return days === undefined ? undefined : days * MILLIS_PER_DAY;
  }
  return undefined;
}

function parseDateTime(m: RegExpExecArray): number | undefined {
  const days = daysOf(Number(m[1]), Number(m[2]), Number(m[3]));
  const hours = Number(m[4]);
  const minutes = Number(m[5]);
  const seconds = Number(m[6]);
  if (days === undefined || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  let millis = 0;
  const fraction = m[7];
  if (fraction !== undefined) {
    if (fraction.length > 3 && !/^0+$/.test(fraction.slice(3))) return undefined;
    millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
  }
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  return days * MILLIS_PER_DAY + ((hours * 60 + minutes - offsetMinutes) * 60 + seconds) * 1000 + millis;
}

/** Days since 1970-01-01 of a proleptic Gregorian date, or undefined when it does not exist. */
function daysOf(year: number, month: number, day: number): number | undefined {
  if (month < 1 || month > 12 || day < 1) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  if (day > monthDays) return undefined;
  // Howard Hinnant's days_from_civil: years start in March so the leap day is last.
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/**
 * Formats epoch milliseconds as ISO 8601 UTC with milliseconds: `2024-03-01T10:00:00.000Z`
 * (years past 9999 use the extended `+010000-…` form). Throws RangeError outside ±{@link MAX_TIMESTAMP_MILLIS}.
 */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}

let lastMicros = 0n;

/** Now in µs since the epoch, strictly increasing within this process (rows' `created_ts`). */
export function nowMicros(): bigint {
  const micros = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
  lastMicros = micros > lastMicros ? micros : lastMicros + 1n;
  return lastMicros;
}
