/**
 * HllUnion (a read's union of HLL payloads) gives exactly hllEstimate of the registers the payloads
 * merge into, sparse and dense alike, read after read on one instance, and after a read that failed
 * half-way.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HLL_DENSE, HllUnion, hllEstimate, hllPayloadAdd, hllPayloadMergeInto, newHllRegisters } from '../src/index.js';

const PRECISION = 8;
const M = 1 << PRECISION;
/** A code of precision 8: bucket < 256, rho 1 … 57. */
const code = fc
  .tuple(fc.integer({ min: 0, max: M - 1 }), fc.integer({ min: 1, max: 57 }))
  .map(([bucket, rho]) => (bucket << 6) | rho);
/** A payload built as the write path builds it: sparse until the codes take a quarter of m bytes, then dense. */
const payload = fc
  .oneof(fc.array(code, { maxLength: 20 }), fc.array(code, { minLength: 70, maxLength: 120 }))
  .map((codes) => {
    let out: Uint8Array | undefined;
    for (const c of codes) out = hllPayloadAdd(out, PRECISION, c);
    return out ?? hllPayloadAdd(undefined, PRECISION, (0 << 6) | 1);
  });

function reference(payloads: readonly Uint8Array[]): number {
  const registers = newHllRegisters(PRECISION);
  for (const p of payloads) hllPayloadMergeInto(registers, p);
  return hllEstimate(registers);
}

describe('HllUnion', () => {
  it('estimates as hllEstimate of the merged registers, read after read on one instance', () => {
    const union = new HllUnion(PRECISION);
    let sawDense = false;
    let sawSparse = false;
    fc.assert(
      fc.property(fc.array(fc.array(payload, { maxLength: 6 }), { minLength: 1, maxLength: 5 }), (reads) => {
        for (const payloads of reads) {
          for (const p of payloads) {
            if (((p[0] as number) & HLL_DENSE) !== 0) sawDense = true;
            else sawSparse = true;
            union.add(p);
          }
          expect(union.estimate()).toBe(reference(payloads));
        }
      }),
      { numRuns: 300 },
    );
    expect(sawDense && sawSparse).toBe(true);
  });

  it('starts empty again after clear(), whatever a failed read left in it', () => {
    const union = new HllUnion(PRECISION);
    let left = hllPayloadAdd(undefined, PRECISION, (3 << 6) | 9);
    for (let b = 0; b < M; b++) left = hllPayloadAdd(left, PRECISION, (b << 6) | 2);
    union.add(left);
    union.add(hllPayloadAdd(undefined, PRECISION, (7 << 6) | 4));
    expect(() => union.add(new Uint8Array([1, 2, 3]))).toThrow(/HLL payload/);
    union.clear();
    expect(union.estimate()).toBe(0);
    const one = hllPayloadAdd(undefined, PRECISION, (5 << 6) | 1);
    union.add(one);
    expect(union.estimate()).toBe(reference([one]));
  });
});
