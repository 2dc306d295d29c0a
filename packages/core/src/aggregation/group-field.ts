/**
 * Where a grouped aggregation (design §1.8) lives online: per (entity, group value), a "group
 * field" `<fv>~<i>~<value>` that the stores treat like a view field of its own (its aggregation
 * fields `<group field>.g<G>.<name>`, its pending list `pendingListField`, its dedup set), in the
 * entity's hash, so one entity is still one read. `i` is the group feature's storage index in base
 * 36; the value is encoded as in `entityKey` (int64 in decimal, a string quoted with `\`, `|`, `}`
 * escaped) and `.` escaped too, so the value ends at the first unescaped `.` and two (value, name)
 * pairs never give one field name; NUL is written `\0`, since the embedded store's keys put NUL after
 * a field (a raw NUL would make one group's dedup keys a prefix range of another's).
 *
 * Decided in increment 10: dedup per group field is dedup per entity, because an event's identity
 * (its fingerprint) covers the group feature: every copy of an event lands in the same group.
 */
import type { JoinKeyValue } from '../model.js';
import { utf8BytesOver } from '../keys.js';

/**
 * Most UTF-8 bytes of an encoded group value: with the longest entity key, the view field, the
 * generation and a field name it keeps an LMDB key under its 1,978 bytes.
 */
export const MAX_GROUP_VALUE_BYTES = 256;

/** The group field of one group value of the group feature at storage index `featureIndex`. */
export function groupField(viewField: string, featureIndex: number, value: JoinKeyValue): string {
  return `${viewField}~${featureIndex.toString(36)}~${encodeGroupValue(value)}`;
}

/** Characters a group value escapes with a backslash (NUL is written `\0`). */
const ESCAPED = new Set(['\\', '|', '}', '.']);

/** The encoded group value (see the file header). */
export function encodeGroupValue(value: JoinKeyValue): string {
  if (typeof value === 'bigint') return value.toString();
  let out = "'";
  for (const c of value) out += c === '\0' ? '\\0' : ESCAPED.has(c) ? `\\${c}` : c;
  return out;
}

/** Why a group value cannot be kept online, or undefined: over {@link MAX_GROUP_VALUE_BYTES} once encoded. */
export function groupValueProblem(value: JoinKeyValue): string | undefined {
  if (typeof value !== 'string') return undefined;
  const bytes = utf8BytesOver(encodeGroupValue(value), MAX_GROUP_VALUE_BYTES);
  return bytes === undefined
    ? undefined
    : `a group value encodes to ${bytes} bytes, more than the limit of ${MAX_GROUP_VALUE_BYTES} (MAX_GROUP_VALUE_BYTES; \\, |, }, . and NUL count twice)`;
}
