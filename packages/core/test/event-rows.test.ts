import { describe, expect, it } from 'vitest';
import {
  EXCLUSION_FUTURE,
  EXCLUSION_LATE,
  EXCLUSION_NONE,
  FINGERPRINT_BYTES,
  FingerprintEncoder,
  batchExclusions,
  batchFingerprints,
  entityKey,
  type RegisteredView,
} from '../src/index.js';

const HOUR = 3_600_000;

const view = {
  name: 'clicks',
  kind: 'events',
  id: 9,
  version: 2,
  entities: ['customer'],
  joinKeys: [{ name: 'customer_id', type: 'int64' }],
  features: [
    {
      name: 'page',
      type: 'string',
      dimension: 0,
      constraints: { notNull: false, allowNaN: false },
      description: '',
      tags: {},
    },
  ],
  events: { allowedLatenessMillis: HOUR, futureToleranceMillis: 60_000 },
  ttlSeconds: 0,
  owner: '',
  tags: {},
  description: '',
  createdAtMillis: 0,
  updatedAtMillis: 0,
} satisfies RegisteredView;

describe('event rows of a Write', () => {
  it('classifies each row by one acceptance time, both edges eligible, and counts the excluded', () => {
    const at = 1_700_000_000_000;
    const ts = Float64Array.of(at - HOUR - 1, at - HOUR, at, at + 60_000, at + 60_001);
    const { codes, counts } = batchExclusions(view, ts, at);
    expect([...codes]).toEqual([EXCLUSION_LATE, EXCLUSION_NONE, EXCLUSION_NONE, EXCLUSION_NONE, EXCLUSION_FUTURE]);
    expect(counts).toEqual({ late: 1, future: 1 });
    // Unset options are the defaults (1 h, 60 s).
    const { events: _unused, ...defaults } = view;
    expect([...batchExclusions(defaults, ts, at).codes]).toEqual([...codes]);
  });

  it('fingerprints each row as the spec encoder does, with the entity key derived from the join keys when not given', () => {
    const rows = {
      joinKeyValues: [[1n], [2n]],
      eventTsMillis: Float64Array.of(5, 6),
      featureValues: [['a', null]],
    };
    const fps = batchFingerprints(view, rows);
    expect(fps.length).toBe(2 * FINGERPRINT_BYTES);
    const encoder = new FingerprintEncoder(9, 2, ['string']);
    expect(Buffer.from(fps.subarray(FINGERPRINT_BYTES))).toEqual(
      Buffer.from(encoder.fingerprint(entityKey(['customer'], [2n]), 6, [null])),
    );
    expect(batchFingerprints(view, rows, [entityKey(['customer'], [1n]), entityKey(['customer'], [2n])])).toEqual(fps);
  });
});
