/**
 * Checks of a request's shape that come before any lookup: enum numbers the server knows, and
 * bounded ref lists. Protobuf decoders keep any enum number as it came (`durability = 99` once
 * passed as write-behind), so every enum field of a request is checked against its declared values.
 */
import { MAX_REF_LENGTH, TesseraError, checkRefLength } from '@tessera/core';

/** Default of {@link FeatureStoreLimits.maxRefsPerRequest}: most feature refs (or views) one request names. */
export const DEFAULT_MAX_REFS_PER_REQUEST = 1_000;

/**
 * Throws INVALID_ARGUMENT unless `value` is one of the numbers declared in `enumObject` (a
 * generated TS enum), naming the field and the allowed values.
 */
export function checkEnum(
  enumObject: Record<string, string | number>,
  value: number,
  field: string,
  what: string,
): void {
  const allowed = Object.entries(enumObject).filter(
    (entry): entry is [string, number] => typeof entry[1] === 'number' && entry[1] >= 0,
  );
  if (allowed.some(([, n]) => n === value)) return;
  throw new TesseraError(
    'INVALID_ARGUMENT',
    `${what}: ${field} = ${value} is not a known value; allowed: ${allowed.map(([name, n]) => `${name} (${n})`).join(', ')}`,
  );
}

/**
 * Throws INVALID_ARGUMENT when a request names more than `maxRefs` refs or a ref (or feature
 * service name) longer than MAX_REF_LENGTH; runs before the refs are resolved or cached.
 */
export function checkRefs(
  refs: readonly string[],
  featureService: string,
  maxRefs: number,
  what: string,
  field = 'features',
): void {
  if (refs.length > maxRefs) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${what}: ${field} has ${refs.length} refs, more than the limit of ${maxRefs} per request (maxRefsPerRequest)`,
    );
  }
  // The label is built only for a ref that fails (not once per ref of every request).
  for (let i = 0; i < refs.length; i++) {
    if (refs[i]!.length > MAX_REF_LENGTH) checkRefLength(refs[i]!, `${what}: ${field}[${i}]`);
  }
  if (featureService.length > MAX_REF_LENGTH) checkRefLength(featureService, `${what}: feature_service`);
}

/** `options` without its undefined fields (for `exactOptionalPropertyTypes` limits objects). */
export function pickDefined<T extends object>(options: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
