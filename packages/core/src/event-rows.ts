/**
 * The offline side of an event view's rows (design docs/design/window-aggregations.md §1.2, §1.3,
 * §4.1): each row's fingerprint and its eligibility decision travel with the row from the Write to
 * the offline store, which routes it to the main table (eligible) or the `__excluded` side table.
 * Helpers over `aggregation/` (the pure spec), kept outside it.
 */
import { eventEligibility } from './aggregation/eligibility.js';
import { effectiveEventOptions } from './definitions/aggregation-rules.js';
import { FINGERPRINT_BYTES, FingerprintEncoder } from './aggregation/fingerprint.js';
import { entityKey } from './keys.js';
import type { FeatureValue, JoinKeyValue, RegisteredView } from './model.js';

/** Per-row exclusion codes of {@link OfflineBatch.exclusions}: the `reason` Enum8 values of `__excluded`. */
export const EXCLUSION_NONE = 0;
export const EXCLUSION_LATE = 1;
export const EXCLUSION_FUTURE = 2;

/** True when the view's rows are events (fingerprinted, routed by eligibility offline). */
export function isEventView(view: Pick<RegisteredView, 'kind'>): boolean {
  return view.kind === 'events';
}

/**
 * The fingerprints of a batch's rows, 16 bytes per row concatenated (§1.2). `entityKeys` may be
 * given when the caller has them (the Write path); otherwise they are derived from the join keys.
 */
export function batchFingerprints(
  view: Pick<RegisteredView, 'id' | 'version' | 'entities' | 'features'>,
  rows: {
    readonly joinKeyValues: readonly (readonly JoinKeyValue[])[];
    readonly eventTsMillis: Float64Array;
    readonly featureValues: readonly (readonly FeatureValue[])[];
  },
  entityKeys?: readonly string[],
): Uint8Array {
  const count = rows.eventTsMillis.length;
  const encoder = new FingerprintEncoder(
    view.id,
    view.version,
    view.features.map((f) => f.type),
  );
  const out = new Uint8Array(count * FINGERPRINT_BYTES);
  const values = new Array<FeatureValue>(view.features.length);
  for (let row = 0; row < count; row++) {
    for (let f = 0; f < values.length; f++) values[f] = rows.featureValues[f]?.[row] ?? null;
    const key = entityKeys?.[row] ?? entityKey(view.entities, rows.joinKeyValues[row] ?? []);
    out.set(encoder.fingerprint(key, rows.eventTsMillis[row] as number, values), row * FINGERPRINT_BYTES);
  }
  return out;
}

/** Counts of a live write's rows by eligibility. */
export interface ExclusionCounts {
  readonly late: number;
  readonly future: number;
}

/**
 * The eligibility of each row of a live write accepted at `acceptedAtMillis` (§1.3), as exclusion
 * codes, with the view's `allowed_lateness` and `future_tolerance` (defaults when unset).
 */
export function batchExclusions(
  view: RegisteredView,
  eventTsMillis: Float64Array,
  acceptedAtMillis: number,
): { readonly codes: Uint8Array; readonly counts: ExclusionCounts } {
  const { allowedLatenessMillis: lateness, futureToleranceMillis: tolerance } = effectiveEventOptions(view);
  const codes = new Uint8Array(eventTsMillis.length);
  let late = 0;
  let future = 0;
  eventTsMillis.forEach((ts, row) => {
    const decision = eventEligibility(ts, acceptedAtMillis, lateness, tolerance);
    if (decision === 'late') {
      codes[row] = EXCLUSION_LATE;
      late++;
    } else if (decision === 'future') {
      codes[row] = EXCLUSION_FUTURE;
      future++;
    }
  });
  return { codes, counts: { late, future } };
}
