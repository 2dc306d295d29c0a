import { describe, expect, it } from 'vitest';
import {
  FingerprintEncoder,
  compareFingerprints,
  compileTileLayout,
  foldIntoTileList,
  forEachVariableRecord,
  hllAdd,
  hllCodeOfInt64,
  hllCodeOfString,
  hllEstimate,
  hllPayloadAdd,
  hllPayloadMergeInto,
  lastNListInsert,
  lastNListValue,
  mergeTileRange,
  newHllRegisters,
  newRecord,
  finalizeRecord,
  pruneTileList,
  tileListNewestEventTs,
  tileListRecords,
  updateVariableRecord,
  type AggregationSpec,
} from '../src/index.js';

const H = 3_600_000;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const X = { index: 0, type: 'int64' as const };
const spec = (fn: AggregationSpec['function']): AggregationSpec => ({
  function: fn,
  input: fn === 'count' ? null : X,
  windowMillis: 7 * 24 * H,
  hopMillis: H,
  n: 0,
  precision: 0,
});

describe('event fingerprint (§1.2): golden bytes', () => {
  const enc = new FingerprintEncoder(1, 2, ['int64', 'double', 'string', 'bool', 'timestamp', 'double_list']);
  const values = [-1n, -0, 'é', true, null, new Float64Array([1])];

  it('writes the canonical bytes of the spec', () => {
    expect(hex(enc.canonicalBytes('{c:1}', 1000, values))).toBe(
      '01000000' +
        '02000000' +
        '05000000' +
        '7b633a317d' +
        '0000000000408f40' + // view, version, key, ts
        '01ffffffffffffffff' +
        '010000000000000000' +
        '0102000000c3a9' +
        '0101' +
        '00' +
        '0101000000000000000000f03f',
    );
  });

  it('is the first 16 bytes of SHA-256 of them, the same for −0 and +0', () => {
    expect(hex(enc.fingerprint('{c:1}', 1000, values))).toBe('6d8a567da70d01e4f9c84774ca259e40');
    expect(hex(enc.fingerprint('{c:1}', 1000, [-1n, 0, 'é', true, null, new Float64Array([1])]))).toBe(
      '6d8a567da70d01e4f9c84774ca259e40',
    );
    expect(hex(enc.fingerprint('{c:1}', 1001, values))).not.toBe('6d8a567da70d01e4f9c84774ca259e40');
  });

  it('orders fingerprints as unsigned bytes', () => {
    expect(compareFingerprints(new Uint8Array(16).fill(0x80), new Uint8Array(16).fill(0x7f))).toBeGreaterThan(0);
    expect(compareFingerprints(new Uint8Array(16), new Uint8Array(16))).toBe(0);
  });
});

describe('HLL (§1.9): golden codes and the estimator', () => {
  it('computes (bucket, rho) from SHA-256 as the spec (abc: h = 0xba7816bf8f01cfea)', () => {
    expect(hllCodeOfString('abc', 12)).toBe((0xba7 << 6) | 1);
    expect(hllCodeOfInt64(-42n, 14)).toBe(1043600);
    expect(hllCodeOfString('', 10)).toBe(58241);
  });

  it('estimates 0 for no values, and within 4 standard errors for 10,000 distinct values', () => {
    expect(hllEstimate(newHllRegisters(12))).toBe(0);
    let payload: Uint8Array | undefined;
    for (let i = 0; i < 10_000; i++) payload = hllPayloadAdd(payload, 12, hllCodeOfInt64(BigInt(i), 12));
    const registers = newHllRegisters(12);
    hllPayloadMergeInto(registers, payload as Uint8Array);
    expect(Math.abs(hllEstimate(registers) - 10_000)).toBeLessThanOrEqual(4 * (1.04 / 64) * 10_000);
    expect((payload as Uint8Array)[0]).toBe(1); // dense by then
  });

  it.each([
    [10, 100],
    [10, 5_000],
    [12, 1_000],
    [14, 100],
    [14, 50_000],
  ])('estimates within 4·1.04/√m·N of the true count at p = %i, N = %i (§1.10, fixed values)', (p, n) => {
    const registers = newHllRegisters(p);
    for (let i = 0; i < n; i++)
      hllAdd(registers, i % 2 === 0 ? hllCodeOfInt64(BigInt(i), p) : hllCodeOfString(`s${i}`, p));
    expect(Math.abs(hllEstimate(registers) - n)).toBeLessThanOrEqual((4 * 1.04 * n) / Math.sqrt(2 ** p));
  });

  it('keeps a sparse payload until 4·codes reaches m bytes, then turns dense with the same registers', () => {
    let payload: Uint8Array | undefined;
    const sparseRegisters = newHllRegisters(10);
    for (let i = 0; i < 255; i++) payload = hllPayloadAdd(payload, 10, hllCodeOfString(`v${i}`, 10));
    expect((payload as Uint8Array)[0]).toBe(0);
    hllPayloadMergeInto(sparseRegisters, payload as Uint8Array);
    const sparseBefore = Uint8Array.from(payload as Uint8Array);
    for (let i = 255; i < 400; i++) payload = hllPayloadAdd(payload, 10, hllCodeOfString(`v${i}`, 10));
    expect((payload as Uint8Array)[0]).toBe(1);
    expect((payload as Uint8Array).byteLength).toBe(1 + 1024);
    const dense = newHllRegisters(10);
    hllPayloadMergeInto(dense, payload as Uint8Array);
    for (let b = 0; b < 1024; b++) expect(dense[b]).toBeGreaterThanOrEqual(sparseRegisters[b] as number);
    // A new payload; the old one is not changed, even when it is a Node Buffer (whose slice() is a view).
    for (const old of [Buffer.from(payload as Uint8Array), Buffer.from(sparseBefore)]) {
      const copy = Uint8Array.from(old);
      for (let i = 400; i < 600; i++) hllPayloadAdd(old, 10, hllCodeOfString(`v${i}`, 10));
      expect(Uint8Array.from(old)).toEqual(copy);
    }
    // Sparse and dense payloads hold exactly the registers of adding every code directly.
    const direct = newHllRegisters(10);
    for (let i = 0; i < 400; i++) hllAdd(direct, hllCodeOfString(`v${i}`, 10));
    expect(hex(dense)).toBe(hex(direct));
    const directSparse = newHllRegisters(10);
    for (let i = 0; i < 255; i++) hllAdd(directSparse, hllCodeOfString(`v${i}`, 10));
    expect(hex(sparseRegisters)).toBe(hex(directSparse));
  });
});

describe('tile list (§3.2): golden bytes', () => {
  const layout = compileTileLayout([spec('count'), spec('sum'), spec('mean'), spec('max'), spec('last')]);
  const fp = new Uint8Array(16).fill(0xab);

  it('shares (sum, nonnull) between sum and mean and matches the seed record size', () => {
    expect(compileTileLayout([spec('count'), spec('sum'), spec('mean')]).recordBytes + 4).toBe(29);
    expect(compileTileLayout([spec('count')]).recordBytes + 4).toBe(13);
    expect(layout.recordBytes).toBe(1 + 8 + 8 + 8 + 8 + 32);
  });

  it('encodes records sorted by tile index, int64 sums wrapping mod 2^64', () => {
    let list = foldIntoTileList(undefined, layout, H, 2 * H + 5, fp, [2n ** 63n - 1n]);
    list = foldIntoTileList(list, layout, H, -1, fp, [-2n]);
    list = foldIntoTileList(list, layout, H, 2 * H + 6, fp, [1n]);
    expect(hex(list)).toBe(
      '010045000200000000000080' +
        '41775b41' + // format 1, 69-byte records, 2 records, newest ts 7200006
        'ffffffff' +
        '03' +
        '000000000000f03f' +
        'feffffffffffffff' +
        '000000000000f03f' +
        'feffffffffffffff' +
        '000000000000f0bf' +
        'ab'.repeat(16) +
        'feffffffffffffff' + // tile −1: ts −1 in the hour before 0
        '02000000' +
        '03' +
        '0000000000000040' +
        '0000000000000080' +
        '0000000000000040' +
        'ffffffffffffff7f' +
        '0000008041775b41' +
        'ab'.repeat(16) +
        '0100000000000000', // tile 2: sum 2^63−1 + 1 wraps to −2^63
    );
    expect(tileListNewestEventTs(list)).toBe(2 * H + 6);
    expect(tileListRecords(list)).toBe(2);
    const acc = newRecord(layout);
    expect(mergeTileRange(list, layout, -1, 2, acc, 0)).toBe(2);
    expect(layout.aggregations.map((a) => finalizeRecord(a, acc, 0))).toEqual([
      3n,
      2n ** 63n - 2n, // (2^63 − 1) + 1 wraps to −2^63, − 2 wraps back to 2^63 − 2
      Number(2n ** 63n - 2n) / 3,
      2n ** 63n - 1n,
      1n,
    ]);
    const pruned = pruneTileList(list, layout, 0);
    expect(tileListRecords(pruned)).toBe(1);
    expect(hex(pruned.subarray(16, 20))).toBe('02000000');
  });

  it('refuses an event whose tile index does not fit an i32 instead of wrapping it', () => {
    const minute = compileTileLayout([{ ...spec('count'), hopMillis: 60_000 }]);
    expect(() => foldIntoTileList(undefined, minute, 60_000, 8_000_000_000_000_000, fp, [null])).toThrow(
      /outside the i32 tile index/,
    );
    expect(() => updateVariableRecord(undefined, 2 ** 31, (p) => p ?? new Uint8Array(1))).toThrow(/outside the i32/);
  });

  it('finalises an empty window to §1.7 table values', () => {
    const all = compileTileLayout([
      spec('count'),
      spec('sum'),
      spec('mean'),
      spec('min'),
      spec('max'),
      spec('last'),
      spec('first_ts'),
      spec('last_ts'),
      { ...spec('sum'), input: { index: 1, type: 'double' } },
      { ...spec('count'), input: { index: 1, type: 'double' } },
    ]);
    const acc = newRecord(all);
    expect(all.aggregations.map((a) => finalizeRecord(a, acc, 0))).toEqual([
      0n,
      0n,
      null,
      null,
      null,
      null,
      null,
      null,
      0,
      0n,
    ]);
  });

  it('breaks last ties by fp as unsigned bytes, whatever the fold order', () => {
    const lastOnly = compileTileLayout([spec('last')]);
    const low = new Uint8Array(16).fill(0x7f);
    const high = new Uint8Array(16).fill(0x80);
    const a = foldIntoTileList(foldIntoTileList(undefined, lastOnly, H, 10, low, [1n]), lastOnly, H, 10, high, [2n]);
    const b = foldIntoTileList(foldIntoTileList(undefined, lastOnly, H, 10, high, [2n]), lastOnly, H, 10, low, [1n]);
    expect(hex(a)).toBe(hex(b));
    const acc = newRecord(lastOnly);
    mergeTileRange(a, lastOnly, 0, 0, acc, 0);
    expect(finalizeRecord(lastOnly.aggregations[0]!, acc, 0)).toBe(2n);
  });
});

describe('last-n list (§3.2): golden bytes', () => {
  it('keeps the n newest by (ts, fp), newest first, strings with a u32 length', () => {
    let list = lastNListInsert(undefined, 2, 'string', 1000, new Uint8Array(16).fill(0xab), 'hé');
    list = lastNListInsert(list, 2, 'string', 999, new Uint8Array(16).fill(1), 'z');
    expect(hex(list)).toBe(
      '0202' +
        '0000000000408f40' +
        'ab'.repeat(16) +
        '03000000' +
        '68c3a9' +
        '0000000000388f40' +
        '01'.repeat(16) +
        '01000000' +
        '7a',
    );
    const older = lastNListInsert(list, 2, 'string', 998, new Uint8Array(16), 'old');
    expect(older).toBe(list); // not among the 2 newest
    const newer = lastNListInsert(list, 2, 'string', 1001, new Uint8Array(16), 'new');
    expect(lastNListValue(newer, 2, 'string', -Infinity, 2000)).toEqual(['new', 'hé']);
    expect(lastNListInsert(list, 2, 'string', 1000, new Uint8Array(16).fill(0xab), 'hé')).toBe(list); // same event
  });

  it('filters by the window at read and gives the empty list when nothing is in it', () => {
    let list: Uint8Array | undefined;
    for (const ts of [10, 20, 30]) list = lastNListInsert(list, 3, 'int64', ts, new Uint8Array(16), BigInt(ts));
    expect([...(lastNListValue(list, 3, 'int64', 20, 30) as BigInt64Array)]).toEqual([30n, 20n]);
    expect([...(lastNListValue(list, 2, 'int64', -Infinity, 25) as BigInt64Array)]).toEqual([20n, 10n]);
    expect([...(lastNListValue(list, 3, 'int64', 31, 40) as BigInt64Array)]).toEqual([]);
    expect(lastNListValue(undefined, 3, 'double', 0, 40)).toEqual(new Float64Array(0));
  });
});

describe('variable tile list (§3.2): golden bytes', () => {
  it('frames records as i32 tile index, u32 length, payload, sorted by tile index', () => {
    let list = updateVariableRecord(undefined, -3, (old) => hllPayloadAdd(old, 10, (5 << 6) | 3));
    expect(hex(list)).toBe('fdffffff' + '05000000' + '00' + '43010000');
    list = updateVariableRecord(list, 7, (old) => hllPayloadAdd(old, 10, (1 << 6) | 2));
    list = updateVariableRecord(list, -3, (old) => hllPayloadAdd(old, 10, (5 << 6) | 9));
    const seen: [number, string][] = [];
    forEachVariableRecord(list, -10, 10, (i, p) => seen.push([i, hex(p)]));
    expect(seen).toEqual([
      [-3, '00' + '49010000'],
      [7, '00' + '42000000'],
    ]);
  });
});
