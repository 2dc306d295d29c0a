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
