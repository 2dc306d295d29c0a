import type { JoinKeyValue } from './model.js';

/**
 * Online key of one entity (or entity combination) as a Redis hash tag: `{customer:1001}`,
 * `{customer,product:1001|p-7}`. Everything inside the braces is the hash tag, so all views of
 * one entity live in one slot and one entity costs one HMGET. String values escape `\`, `|`
 * and `}` so that distinct keys never collide.
 */
export function entityKey(entities: readonly string[], values: readonly JoinKeyValue[]): string {
  let encoded = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) encoded += '|';
    const v = values[i] as JoinKeyValue;
    encoded += typeof v === 'bigint' ? v.toString() : escapeKeyPart(v);
  }
  return `{${entities.join(',')}:${encoded}}`;
}

function escapeKeyPart(s: string): string {
  // Strings get a leading quote so the string "42" never collides with the int64 42.
  return `'${s.replace(/[\\|}]/g, (c) => `\\${c}`)}`;
}

/** The hash field of one view version: base-36 view id, a dot, the version (`1a.2`). Short and stable. */
export function viewField(viewId: number, version: number): string {
  return `${viewId.toString(36)}.${version}`;
}

/**
 * Most UTF-8 bytes of one string join key value, the same for every online store. LMDB refuses
 * keys over 1,978 bytes while Redis takes 512 MB; one limit below both makes a key that one store
 * accepts acceptable to the other.
 */
export const MAX_STRING_KEY_BYTES = 1_024;

/**
 * Most UTF-8 bytes of an encoded entity key (`entityKey`: entity names, values, escapes), so that
 * with a store's key prefix and the view field it fits LMDB's 1,978-byte keys. Composite keys and
 * keys full of escaped characters (`\`, `|`, `}` count twice) meet this before {@link MAX_STRING_KEY_BYTES}.
 */
export const MAX_ENTITY_KEY_BYTES = 1_536;

/** UTF-8 byte length of `s`, computed only when it could exceed `limit` (a UTF-16 unit is at most 3 bytes). */
export function utf8BytesOver(s: string, limit: number): number | undefined {
  if (s.length * 3 <= limit) return undefined;
  const bytes = Buffer.byteLength(s, 'utf8');
  return bytes > limit ? bytes : undefined;
}

/**
 * Why a join key value or entity key cannot be stored, or undefined when it can: a string value
 * over {@link MAX_STRING_KEY_BYTES}, or an encoded key over {@link MAX_ENTITY_KEY_BYTES}.
 */
export function keyValueProblem(value: JoinKeyValue): string | undefined {
  if (typeof value !== 'string') return undefined;
  const bytes = utf8BytesOver(value, MAX_STRING_KEY_BYTES);
  return bytes === undefined
    ? undefined
    : `string key of ${bytes} UTF-8 bytes is longer than the limit of ${MAX_STRING_KEY_BYTES} bytes (MAX_STRING_KEY_BYTES)`;
}

/** Why an encoded entity key cannot be stored (see {@link MAX_ENTITY_KEY_BYTES}), or undefined. */
export function entityKeyProblem(key: string): string | undefined {
  const bytes = utf8BytesOver(key, MAX_ENTITY_KEY_BYTES);
  return bytes === undefined
    ? undefined
    : `the entity key encodes to ${bytes} bytes, more than the limit of ${MAX_ENTITY_KEY_BYTES} (MAX_ENTITY_KEY_BYTES; \\, | and } count twice)`;
}
