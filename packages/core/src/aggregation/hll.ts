/**
 * Approximate distinct counts (design §1.9): one HyperLogLog spec implemented here and in
 * ClickHouse SQL, finalised only here.
 *
 * - Canonical bytes of a value: a string's UTF-8 bytes; an int64's decimal text (`-42`).
 * - h = the first 8 bytes of SHA-256(bytes), big-endian uint64; bucket = h >> (64 − p);
 *   w = (h << p) mod 2^64 | 2^(p−1); rho = clz64(w) + 1 (1 … 64 − p + 1).
 * - A sketch is m = 2^p registers `M[bucket] = max rho`; merge is the per-bucket max.
 * The 64-bit arithmetic runs on two uint32 halves: no BigInt per value.
 */

import { createHash } from 'node:crypto';

/**
 * The (bucket, rho) of one value packed as `bucket << 6 | rho` (rho ≤ 55 fits 6 bits): the form a
 * sparse sketch stores and the write script receives.
 */
export type HllCode = number;

/** `(bucket, rho)` of canonical bytes at precision p, as an {@link HllCode}. */
export function hllCodeOfBytes(bytes: Uint8Array, precision: number): HllCode {
  const d = createHash('sha256').update(bytes).digest();
  const hi = d.readUInt32BE(0);
  const lo = d.readUInt32BE(4);
  const p = precision;
  const bucket = hi >>> (32 - p);
  const wHi = ((hi << p) | (lo >>> (32 - p))) >>> 0;
  // The low half always holds bit p − 1, so it is never zero.
  const wLo = ((lo << p) | (1 << (p - 1))) >>> 0;
  const clz = wHi !== 0 ? Math.clz32(wHi) : 32 + Math.clz32(wLo);
  return (bucket << 6) | (clz + 1);
}

/** `(bucket, rho)` of a string input (its UTF-8 bytes). */
export function hllCodeOfString(value: string, precision: number): HllCode {
  return hllCodeOfBytes(Buffer.from(value, 'utf8'), precision);
}

/** `(bucket, rho)` of an int64 input (its decimal text, as ClickHouse's `toString`). */
export function hllCodeOfInt64(value: bigint, precision: number): HllCode {
  return hllCodeOfBytes(Buffer.from(value.toString(), 'latin1'), precision);
}

/** The bucket of a code. */
export function hllBucket(code: HllCode): number {
  return code >>> 6;
}

/** The rho of a code. */
export function hllRho(code: HllCode): number {
  return code & 63;
}

/** Empty registers of precision p. */
export function newHllRegisters(precision: number): Uint8Array {
  return new Uint8Array(1 << precision);
}

/** Adds one code to registers (per-bucket max). */
export function hllAdd(registers: Uint8Array, code: HllCode): void {
  const b = code >>> 6;
  const rho = code & 63;
  if (rho > (registers[b] as number)) registers[b] = rho;
}

/** Merges registers `from` into `into` (same precision): per-bucket max. */
export function hllMergeRegisters(into: Uint8Array, from: Uint8Array): void {
  for (let i = 0; i < into.length; i++) {
    const r = from[i] as number;
    if (r > (into[i] as number)) into[i] = r;
  }
}

/**
 * The estimate of registers (m = registers.length): `E = α_m·m² / Z` with α_m = 0.7213/(1 + 1.079/m)
 * and Z = Σ_j 2^(−M[j]); if E ≤ 2.5·m and V (zero registers) > 0 then E = m·ln(m/V); `round(E)`.
 * No large-range correction (the hash has 64 bits).
 *
 * Decided in increment 1: Z is computed exactly (as the integer Σ 2^(K − M[j]), K = 64, in BigInt
 * over a histogram of register values) and rounded to a double once, so the estimate does not depend
 * on a summation order and any independent implementation that sums exactly gets the same number;
 * then `alpha * m * m / z` left to right, `m * Math.log(m / v)`, `Math.round`.
 */
export function hllEstimate(registers: Uint8Array): number {
  const histogram = new Uint32Array(65);
  for (let i = 0; i < registers.length; i++) {
    const r = registers[i] as number;
    histogram[r] = (histogram[r] as number) + 1;
  }
  return hllEstimateFromHistogram(histogram);
}

/**
 * {@link hllEstimate} from the histogram of the register values instead of the registers:
 * `histogram[k]` = how many registers hold k (k = 0 … 64; index 0 counts the zero registers V,
 * positions past the end count as 0), so m = Σ histogram. The same arithmetic, so the same number
 * as `hllEstimate` of any registers with that histogram. GetHistorical computes the histogram in
 * SQL from the `maxMap` registers (`offline/historical/aggregation-sql.ts`): ≤ 66 small integers
 * per row cross to Node instead of the codes, and no register array is walked per row.
 */
export function hllEstimateFromHistogram(histogram: ArrayLike<number>): number {
  let m = 0;
  let exact = 0n;
  const n = Math.min(histogram.length, 65);
  if (histogram.length > 65) {
    for (let k = 65; k < histogram.length; k++) {
      if ((histogram[k] as number) !== 0) throw new RangeError(`HLL histogram: register value ${k} > 64`);
    }
  }
  for (let k = 0; k < n; k++) {
    const c = histogram[k] as number;
    if (!Number.isSafeInteger(c) || c < 0) throw new RangeError(`HLL histogram: count ${c} of value ${k}`);
    m += c;
    if (c !== 0) exact += BigInt(c) << BigInt(64 - k);
  }
  const z = Number(exact) / 2 ** 64;
  const alpha = 0.7213 / (1 + 1.079 / m);
  let e = (alpha * m * m) / z;
  const zeros = n > 0 ? (histogram[0] as number) : 0;
  if (e <= 2.5 * m && zeros > 0) e = m * Math.log(m / zeros);
  return Math.round(e);
}
