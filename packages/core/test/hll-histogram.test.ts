import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hllAdd, hllCodeOfString, hllEstimate, hllEstimateFromHistogram, newHllRegisters } from '../src/index.js';

/** hllEstimate as it was before the histogram form existed (increment 1), kept as the reference. */
function referenceEstimate(registers: Uint8Array): number {
  const m = registers.length;
  const histogram = new Uint32Array(65);
  for (let i = 0; i < m; i++) {
    const r = registers[i] as number;
    histogram[r] = (histogram[r] as number) + 1;
  }
  let exact = 0n;
  for (let k = 0; k <= 64; k++) {
    const c = histogram[k] as number;
    if (c !== 0) exact += BigInt(c) << BigInt(64 - k);
  }
  const z = Number(exact) / 2 ** 64;
  const alpha = 0.7213 / (1 + 1.079 / m);
  let e = (alpha * m * m) / z;
  const zeros = histogram[0] as number;
  if (e <= 2.5 * m && zeros > 0) e = m * Math.log(m / zeros);
  return Math.round(e);
}

/** The histogram GetHistorical's SQL yields: [zeros, count of 1, …, count of max], no trailing zeros. */
function sqlHistogram(registers: Uint8Array): number[] {
  let max = 0;
  for (const r of registers) max = Math.max(max, r);
  const histogram = new Array<number>(max + 1).fill(0);
  for (const r of registers) histogram[r] = (histogram[r] as number) + 1;
  return histogram;
}

describe('hllEstimateFromHistogram (design §1.9)', () => {
  it('equals hllEstimate and the reference on random registers of every precision', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 14 }),
        fc.integer({ min: 0, max: 1 << 14 }),
        fc.integer({ min: 1, max: 55 }),
        fc.integer(),
        (p, occupied, maxRho, seed) => {
          const registers = newHllRegisters(p);
          let x = seed >>> 0;
          for (let i = 0; i < Math.min(occupied, registers.length); i++) {
            x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
            const rho = 1 + (x % maxRho);
            x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
            registers[x >>> (32 - p)] = rho;
          }
          const expected = referenceEstimate(registers);
          expect(hllEstimate(registers)).toBe(expected);
          expect(hllEstimateFromHistogram(sqlHistogram(registers))).toBe(expected);
          expect(hllEstimateFromHistogram(Float64Array.from(sqlHistogram(registers)))).toBe(expected);
        },
      ),
      { numRuns: 300, seed: 17 },
    );
  });

  it('equals hllEstimate on registers of real codes, in the linear-counting and the HLL regime', () => {
    for (const [p, n] of [
      [12, 0],
      [12, 100],
      [12, 20_000],
      [14, 200_000],
    ] as const) {
      const registers = newHllRegisters(p);
      for (let i = 0; i < n; i++) hllAdd(registers, hllCodeOfString(`v${i}`, p));
      expect(hllEstimateFromHistogram(sqlHistogram(registers))).toBe(referenceEstimate(registers));
    }
  });

  it('refuses counts that are not registers', () => {
    expect(() => hllEstimateFromHistogram([4096, -1])).toThrow(/count -1 of value 1/);
    expect(() => hllEstimateFromHistogram([4096, 0.5])).toThrow(/count 0.5/);
    expect(() => hllEstimateFromHistogram(new Array<number>(66).fill(1))).toThrow(/register value 65 > 64/);
  });
});
