import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EXCLUSION_FUTURE,
  EXCLUSION_LATE,
  EXCLUSION_NONE,
  TesseraError,
  VALUE_TYPES,
  batchFingerprints,
} from '@tessera/core';
import type { FeatureDef, FeatureValue, JoinKeyValue, OfflineBatch, RegisteredView, ValueType } from '@tessera/core';
import { valueOf } from '../../core/test/support/arbitraries.js';
import { decodeOfflineJob, encodeOfflineJob } from '../src/index.js';
import type { OfflineJobData } from '../src/index.js';

function viewWith(types: readonly ValueType[]): RegisteredView {
  const features: FeatureDef[] = types.map((type, i) => ({
    name: `f${i}`,
    type,
    dimension: 0,
    constraints: { notNull: false, allowNaN: true },
    description: '',
    tags: {},
  }));
  return {
    name: 'jobs',
    entities: ['user', 'shop'],
    features,
    ttlSeconds: 0,
    owner: 'tests',
    tags: {},
    description: '',
    id: 7,
    version: 3,
    joinKeys: [
      { name: 'user_id', type: 'int64' },
      { name: 'shop', type: 'string' },
    ],
    createdAtMillis: 0,
    updatedAtMillis: 0,
  };
}

const key: fc.Arbitrary<JoinKeyValue[]> = fc.tuple(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);

/** A view's types and 1–3 batches (Writes) of rows of it. */
const viewAndBatches = fc
  .array(fc.constantFrom(...VALUE_TYPES), { minLength: 1, maxLength: 10 })
  .chain((types) =>
    fc.tuple(
      fc.constant(types),
      fc.array(
        fc.array(
          fc.tuple(
            key,
            fc.integer({ min: -2_208_988_800_000, max: 10_413_791_999_999 }),
            fc.tuple(...types.map((t) => fc.option(valueOf(t), { nil: null, freq: 4 }))),
          ),
          { maxLength: 6 },
        ),
        { minLength: 1, maxLength: 3 },
      ),
    ),
  );

function batchOf(rows: readonly [JoinKeyValue[], number, FeatureValue[]][], featureCount: number): OfflineBatch {
  return {
    joinKeyValues: rows.map(([k]) => k),
    eventTsMillis: Float64Array.from(rows.map(([, ts]) => ts)),
    featureValues: Array.from({ length: featureCount }, (_, f) => rows.map(([, , values]) => values[f] ?? null)),
  };
}

describe('write-behind jobs', () => {
  it('carry every value of every type exactly, each Write with its own created_ts, in order', () => {
    fc.assert(
      fc.property(viewAndBatches, ([types, writes]) => {
        const view = viewWith(types);
        const batches = writes.map((rows) => batchOf(rows, types.length));
        const parts = batches.map((batch, i) => ({ batch, createdTsMicros: 1_700_000_000_000_000n + BigInt(i) }));
        const job = JSON.parse(JSON.stringify(encodeOfflineJob(view, parts, 42))) as OfflineJobData;
        expect(job).toMatchObject({ view: 'jobs', version: 3, enqueuedAtMillis: 42 });
        const decoded = decodeOfflineJob(job, view);
        const all = writes.flat();
        expect(job.rowCount).toBe(all.length);
        expect(decoded.joinKeyValues).toEqual(all.map(([k]) => k));
        expect([...decoded.eventTsMillis]).toEqual(all.map(([, ts]) => ts));
        expect([...(decoded.createdTsMicros ?? [])]).toEqual(
          writes.flatMap((rows, i) => rows.map(() => 1_700_000_000_000_000n + BigInt(i))),
        );
        types.forEach((_, f) => {
          expect(decoded.featureValues[f]).toEqual(all.map(([, , values]) => values[f] ?? null));
        });
      }),
      { numRuns: 300 },
    );
  });

  it('fill features added to the view since the job was queued with NULL', () => {
    const before = viewWith(['double']);
    const after = { ...before, features: [...before.features, ...viewWith(['string', 'int64']).features.slice(1)] };
    const job = encodeOfflineJob(before, [{ batch: batchOf([[[1n, 'a'], 1000, [0.5]]], 1), createdTsMicros: 1n }]);
    const decoded = decodeOfflineJob(job, after);
    expect(decoded.featureValues).toEqual([[0.5], [null]]);
  });

  it.each([
    ['an unknown format', (job: OfflineJobData) => ({ ...job, format: 2 }), /unknown format 2/],
    [
      'rows that are not MessagePack',
      (job: OfflineJobData) => ({ ...job, rows: 'wQ==' }),
      /unreadable rows|not a batch/,
    ],
    ['a row count that does not match', (job: OfflineJobData) => ({ ...job, rowCount: 5 }), /not a batch of 5 rows/],
  ])('are refused with INVALID_ARGUMENT (a dead letter, never retried) for %s', (_, spoil, message) => {
    const view = viewWith(['double']);
    const job = encodeOfflineJob(view, [{ batch: batchOf([[[1n, 'a'], 1000, [0.5]]], 1), createdTsMicros: 1n }]);
    const spoiled = spoil(job) as OfflineJobData;
    let thrown: unknown;
    try {
      decodeOfflineJob(spoiled, view);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TesseraError);
    expect((thrown as TesseraError).code).toBe('INVALID_ARGUMENT');
    expect((thrown as TesseraError).message).toMatch(message);
    expect((thrown as TesseraError).message).toContain('jobs@3');
  });

  it('refuse a job with more features than the view has', () => {
    const job = encodeOfflineJob(viewWith(['double', 'double']), [
      { batch: batchOf([[[1n, 'a'], 1000, [0.5, 1]]], 2), createdTsMicros: 1n },
    ]);
    expect(() => decodeOfflineJob(job, viewWith(['double']))).toThrow(/2 features, the view has 1/);
  });
});

describe('jobs of event views', () => {
  const events: RegisteredView = { ...viewWith(['string', 'double']), kind: 'events' };
  const batch = (n: number, first: number): OfflineBatch => ({
    joinKeyValues: Array.from({ length: n }, (_, i) => [BigInt(first + i), 's']),
    eventTsMillis: Float64Array.from({ length: n }, (_, i) => 1_700_000_000_000 + i),
    featureValues: [Array.from({ length: n }, (_, i) => `p${first + i}`), Array.from({ length: n }, () => 0.5)],
  });

  it('carry each Write’s fingerprints and exclusions, computing the fingerprints of a Write without them', () => {
    const a = batch(2, 0);
    const withEvents: OfflineBatch = {
      ...a,
      fingerprints: batchFingerprints(events, a),
      exclusions: Uint8Array.of(EXCLUSION_LATE, EXCLUSION_FUTURE),
    };
    const b = batch(1, 10); // a part without them (an outbox entry written before they were carried)
    const decoded = decodeOfflineJob(
      encodeOfflineJob(events, [
        { batch: withEvents, createdTsMicros: 1n },
        { batch: b, createdTsMicros: 2n },
      ]),
      events,
    );
    expect(Buffer.from(decoded.fingerprints!)).toEqual(
      Buffer.concat([batchFingerprints(events, a), batchFingerprints(events, b)]),
    );
    expect([...decoded.exclusions!]).toEqual([EXCLUSION_LATE, EXCLUSION_FUTURE, EXCLUSION_NONE]);
  });

  it('carry online generations (online_gen) per row, 0 for a part without them, and none when no part has them', () => {
    const a: OfflineBatch = { ...batch(2, 0), onlineGenerations: Uint32Array.of(1, 0) };
    const b = batch(1, 10);
    const decoded = decodeOfflineJob(
      encodeOfflineJob(events, [
        { batch: a, createdTsMicros: 1n },
        { batch: b, createdTsMicros: 2n },
      ]),
      events,
    );
    expect([...decoded.onlineGenerations!]).toEqual([1, 0, 0]);
    const without = decodeOfflineJob(encodeOfflineJob(events, [{ batch: b, createdTsMicros: 2n }]), events);
    expect(without.onlineGenerations).toBeUndefined();
  });

  it('decode a job queued without them (a plain view’s encoding) as rows without fingerprints or exclusions', () => {
    const decoded = decodeOfflineJob(
      encodeOfflineJob({ ...events, kind: 'state' }, [{ batch: batch(2, 0), createdTsMicros: 1n }]),
      events,
    );
    expect([decoded.fingerprints, decoded.exclusions]).toEqual([undefined, undefined]);
  });
});
