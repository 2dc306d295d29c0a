import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RowDecoder, decodeRow, readRowEventTs } from '../src/codec/row-decoder.js';
import { RowEncoder, encodeRow } from '../src/codec/row-encoder.js';
import { TesseraError } from '../src/errors.js';
import { VALUE_TYPES } from '../src/model.js';
import type { FeatureValue, ValueType } from '../src/model.js';
import { valueOf } from './support/arbitraries.js';

const schemaAndValues = fc
  .array(fc.constantFrom(...VALUE_TYPES), { maxLength: 14 })
  .chain((types) =>
    fc.tuple(fc.constant(types), fc.tuple(...types.map((t) => fc.option(valueOf(t), { nil: null, freq: 4 })))),
  );

const eventTs = fc.oneof(fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true }));

/** Exact equality: NaN equals NaN, -0 differs from 0, typed arrays compare element by element. */
function sameValue(a: FeatureValue, b: FeatureValue): boolean {
  if (ArrayBuffer.isView(a) || Array.isArray(a)) {
    if (!(ArrayBuffer.isView(b) || Array.isArray(b)) || a.constructor !== b.constructor) return false;
    const x = a as ArrayLike<unknown>;
    const y = b as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  return Object.is(a, b);
}

function expectSameValues(actual: readonly FeatureValue[], expected: readonly FeatureValue[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    if (!sameValue(v, expected[i] ?? null))
      expect.fail(`feature ${i}: got ${String(v)}, expected ${String(expected[i])}`);
  });
}

function allIndexes(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function expectMalformed(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TesseraError);
    expect((error as TesseraError).code).toBe('INTERNAL');
    expect((error as TesseraError).message).toMatch(pattern);
    return;
  }
  expect.fail('expected a malformed-row error');
}

describe('packed row codec', () => {
  it('round-trips every type, null, the event timestamp and the header', () => {
    fc.assert(
      fc.property(schemaAndValues, eventTs, ([types, values], ts) => {
        const row = encodeRow(types, ts, values);
        expect(row[0]).toBe(1);
        expect(Object.is(readRowEventTs(row), ts)).toBe(true);
        expectSameValues(decodeRow(types, row, allIndexes(types.length)), values);
      }),
      { numRuns: 500 },
    );
  });

  it('decodes a chosen subset (any order, repeats) the same as a full decode', () => {
    const withWanted = schemaAndValues.chain(([types, values]) =>
      fc.tuple(
        fc.constant(types),
        fc.constant(values),
        types.length === 0 ? fc.constant([]) : fc.array(fc.nat(types.length - 1), { maxLength: 10 }),
      ),
    );
    fc.assert(
      fc.property(withWanted, ([types, values, wanted]) => {
        const row = encodeRow(types, 0, values);
        const full = decodeRow(types, row, allIndexes(types.length));
        expectSameValues(
          decodeRow(types, row, wanted),
          wanted.map((i) => full[i] ?? null),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('reads features appended after the row was written as null', () => {
    fc.assert(
      fc.property(
        schemaAndValues,
        fc.array(fc.constantFrom(...VALUE_TYPES), { minLength: 1, maxLength: 5 }),
        ([types, values], added) => {
          const row = encodeRow(types, 7, values);
          const newer = [...types, ...added];
          const decoded = decodeRow(newer, row, allIndexes(newer.length));
          expectSameValues(decoded, [...values, ...added.map(() => null)]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reads the known features of a row written by a newer schema', () => {
    fc.assert(
      fc.property(schemaAndValues, ([types, values]) => {
        const row = encodeRow(types, 7, values);
        const older = types.slice(0, Math.floor(types.length / 2));
        expectSameValues(decodeRow(older, row, allIndexes(older.length)), values.slice(0, older.length));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the edge values exact', () => {
    const types: ValueType[] = [
      'int64',
      'int64',
      'double',
      'double',
      'double',
      'string',
      'string',
      'float_list',
      'string_list',
      'double_list',
      'int64_list',
      'bytes',
      'timestamp',
      'timestamp',
    ];
    const values: FeatureValue[] = [
      -(2n ** 63n),
      2n ** 63n - 1n,
      Number.NaN,
      -0,
      Number.MIN_VALUE,
      '',
      '𝄞 😀 ü 中',
      new Float32Array([0.1, -0, Number.NaN, 3.4028234663852886e38, 1.401298464324817e-45]),
      ['', '😀', 'a'],
      new Float64Array([]),
      new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
      new Uint8Array([]),
      -Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER,
    ];
    const row = encodeRow(types, 1_709_287_200_000, values);
    expectSameValues(decodeRow(types, row, allIndexes(types.length)), values);
  });

  it('decodes into caller-provided columns and returns the event timestamp', () => {
    const types: ValueType[] = ['int64', 'string', 'double'];
    const encoder = new RowEncoder(types);
    const decoder = new RowDecoder(types, [2, 0]);
    const columns: FeatureValue[][] = [[], []];
    expect(decoder.decodeInto(encoder.encode(100, [1n, 'a', 0.5]), columns, 0)).toBe(100);
    expect(decoder.decodeInto(encoder.encode(200, [null, 'b', null]), columns, 1)).toBe(200);
    expect(columns).toEqual([
      [0.5, null],
      [1n, null],
    ]);
  });

  it('decodes rows that are plain Uint8Arrays at any offset', () => {
    const types: ValueType[] = ['float_list', 'string'];
    const row = encodeRow(types, 5, [new Float32Array([1.5, 2.5]), 'x']);
    const shifted = new Uint8Array(row.length + 3);
    shifted.set(row, 3);
    expectSameValues(decodeRow(types, shifted.subarray(3), [0, 1]), [new Float32Array([1.5, 2.5]), 'x']);
  });

  it('rejects every truncation of a valid row', () => {
    fc.assert(
      fc.property(schemaAndValues, ([types, values]) => {
        const row = encodeRow(types, 1, values);
        for (let length = 0; length < row.length; length++) {
          expectMalformed(
            () => decodeRow(types, row.subarray(0, length), allIndexes(types.length)),
            /Malformed packed row/,
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a short header, an unknown version, a bad bool and an overlong varint', () => {
    expectMalformed(() => readRowEventTs(new Uint8Array(4)), /shorter than the 9-byte header/);
    const row = encodeRow(['bool'], 1, [true]);
    const v2 = Uint8Array.from(row);
    v2[0] = 2;
    expectMalformed(() => readRowEventTs(v2), /unknown row format version 2/);
    expectMalformed(() => decodeRow(['bool'], v2, [0]), /version 2/);
    const badBool = Uint8Array.from(row);
    badBool[badBool.length - 1] = 7;
    expectMalformed(() => decodeRow(['bool'], badBool, [0]), /bool feature 0 holds byte 7/);
    const longVarint = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expectMalformed(() => decodeRow(['bool'], longVarint, [0]), /feature count/);
    const hugeCount = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
    expectMalformed(() => decodeRow(['bool'], hugeCount, [0]), /null bitmap for 4294967295 features runs past the end/);
  });

  it('names the feature and byte of a truncated value', () => {
    const row = encodeRow(['int64', 'string'], 1, [5n, 'hello']);
    expectMalformed(
      () => decodeRow(['int64', 'string'], row.subarray(0, row.length - 2), [1]),
      /feature 1 \(string\) needs 5 bytes at byte 20/,
    );
  });

  it('refuses values in the wrong representation and unknown wanted features', () => {
    expect(() => encodeRow(['int64'], 1, [5])).toThrow(/feature 0 \(int64\) cannot hold a number/);
    expect(() => encodeRow(['timestamp'], 1, [1.5])).toThrow(/cannot hold/);
    expect(() => encodeRow(['int64'], 1, [2n ** 63n])).toThrow(/cannot hold/);
    expect(() => encodeRow(['double'], 1, [])).toThrow(/0 values for a schema of 1/);
    expect(() => new RowDecoder(['double'], [1])).toThrow(/wanted feature 1/);
  });
});
