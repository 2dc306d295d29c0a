import { describe, expect, it } from 'vitest';
import { decodeRow } from '../src/codec/row-decoder.js';
import { TesseraError } from '../src/errors.js';
import { entityKey } from '../src/keys.js';
import type { Constraints, FeatureDef, RegisteredView, ValueType } from '../src/model.js';
import { validateWriteBatch } from '../src/validate-write.js';
import type { WriteBatchInput } from '../src/validate-write.js';

function feature(name: string, type: ValueType, constraints: Partial<Constraints> = {}, dimension = 0): FeatureDef {
  return {
    name,
    type,
    dimension,
    constraints: { notNull: false, allowNaN: false, ...constraints },
    description: '',
    tags: {},
  };
}

const view: RegisteredView = {
  id: 7,
  version: 2,
  name: 'customer_stats',
  entities: ['customer'],
  joinKeys: [{ name: 'customer_id', type: 'int64' }],
  features: [
    feature('loyalty_score', 'double', { min: 0, max: 5 }),
    feature('tier', 'string', { allowedValues: ['gold', 'silver'] }),
    feature('nickname', 'string', { maxLength: 3 }),
    feature('avatar', 'bytes', { maxLength: 2 }),
    feature('embedding', 'float_list', {}, 3),
    feature('recent_orders', 'int64_list', { maxLength: 2, min: 0 }),
    feature('active', 'bool', { notNull: true }),
    feature('signup', 'timestamp'),
    feature('ratio', 'double', { allowNaN: true }),
    feature('visits', 'int64', { max: 2 ** 53 }),
    feature('labels', 'string_list', { allowedValues: ['a', 'b'] }),
    feature('prices', 'double_list'),
  ],
  ttlSeconds: 0,
  owner: '',
  tags: {},
  description: '',
  createdAtMillis: 0,
  updatedAtMillis: 0,
};

const pairView: RegisteredView = {
  ...view,
  name: 'pair_stats',
  version: 1,
  entities: ['customer', 'product'],
  joinKeys: [
    { name: 'customer_id', type: 'int64' },
    { name: 'product_id', type: 'string' },
  ],
  features: [feature('clicks', 'int64')],
};

/** A valid batch of three rows; tests override columns. */
function batch(
  overrides: Record<string, readonly unknown[] | undefined> = {},
  eventTimestamps?: readonly unknown[],
): WriteBatchInput {
  const columns: Record<string, readonly unknown[]> = {
    customer_id: [1n, 2, 3n],
    loyalty_score: [4.5, null, 0],
    active: [true, false, true],
  };
  for (const [name, column] of Object.entries(overrides)) {
    if (column === undefined) delete columns[name];
    else columns[name] = column;
  }
  return { columns, eventTimestamps: eventTimestamps ?? [1_709_287_200_000, '2024-03-01T10:00:00Z', 5n] };
}

function rejection(input: WriteBatchInput, v: RegisteredView = view, maxProblems?: number): TesseraError {
  let result: unknown;
  try {
    result = validateWriteBatch(v, input, maxProblems === undefined ? {} : { maxProblems });
  } catch (error) {
    expect(error).toBeInstanceOf(TesseraError);
    expect((error as TesseraError).code).toBe('INVALID_ARGUMENT');
    return error as TesseraError;
  }
  return expect.fail(`expected a rejection, got ${String(result)}`);
}

function expectRejected(input: WriteBatchInput, message: string): TesseraError {
  const error = rejection(input);
  expect(error.message).toBe(`Write to customer_stats@2 rejected: ${message}`);
  return error;
}

describe('validateWriteBatch', () => {
  it('converts a valid batch: keys, entity keys, timestamps, values and packed rows', () => {
    const result = validateWriteBatch(
      view,
      batch({
        tier: ['gold', null, 'silver'],
        embedding: [[0.1, 0.2, 0.3], new Float32Array([1, 2, 3]), null],
        recent_orders: [[1, 2n], null, new BigInt64Array([5n])],
        visits: [2n ** 53n, 3, null],
        signup: ['2024-03-01', 0n, null],
        ratio: [Number.NaN, -0, null],
      }),
    );
    expect(result.rowCount).toBe(3);
    expect(result.joinKeyValues).toEqual([[1n], [2n], [3n]]);
    expect(result.entityKeys).toEqual([entityKey(['customer'], [1n]), '{customer:2}', '{customer:3}']);
    expect([...result.eventTsMillis]).toEqual([1_709_287_200_000, Date.UTC(2024, 2, 1, 10), 5]);
    expect(result.rows).toHaveLength(3);
    const types = view.features.map((f) => f.type);
    const all = view.features.map((_, i) => i);
    const row0 = decodeRow(types, result.rows[0] as Uint8Array, all);
    expect(row0[0]).toBe(4.5);
    expect(row0[1]).toBe('gold');
    expect(row0[4]).toEqual(new Float32Array([0.1, 0.2, 0.3]));
    expect(row0[5]).toEqual(new BigInt64Array([1n, 2n]));
    expect(row0[6]).toBe(true);
    expect(row0[7]).toBe(Date.UTC(2024, 2, 1));
    expect(row0[8]).toBeNaN();
    expect(row0[9]).toBe(2n ** 53n);
    expect(row0[11]).toBeNull(); // absent column
    expect(Object.is(decodeRow(types, result.rows[1] as Uint8Array, [8])[0], -0)).toBe(true);
    expect(result.featureValues[0]).toEqual([4.5, null, 0]);
    expect(result.featureValues[11]).toEqual([null, null, null]);
  });

  it('accepts an empty batch and a Map of columns', () => {
    const result = validateWriteBatch(view, { columns: new Map([['customer_id', []]]), eventTimestamps: [] });
    expect(result.rowCount).toBe(0);
    expect(result.rows).toEqual([]);
  });

  it('rejects an unknown column', () => {
    const error = expectRejected(
      batch({ loyality_score: [1, 2, 3] }),
      'column loyality_score: unknown column: customer_stats@2 has join keys customer_id and features loyalty_score, tier, nickname, avatar, embedding, recent_orders, active, signup, ratio, visits, labels, prices',
    );
    expect(error.details).toHaveLength(1);
    expect(error.details[0]?.file).toBe('write customer_stats@2');
    expect(error.details[0]?.path).toBe('column loyality_score');
    expect(error.details[0]?.message).toMatch(/^unknown column/);
  });

  it('rejects a missing join key column', () => {
    expectRejected(batch({ customer_id: undefined }), 'column customer_id: missing join key column');
  });

  it('rejects columns of differing lengths, and event timestamps of the wrong length', () => {
    expectRejected(batch({ loyalty_score: [1, 2] }), 'column loyalty_score: has 2 values but column customer_id has 3');
    expectRejected(batch({}, [1, 2]), 'event timestamps: has 2 values but column customer_id has 3');
  });

  it('rejects a value of the wrong type, naming the row, column, expected type and what came', () => {
    expectRejected(batch({ loyalty_score: [1, 2n, 3] }), 'row 1, column loyalty_score: expected double, got bigint 2');
    expectRejected(batch({ visits: [1, 1.5, 3] }), 'row 1, column visits: expected int64, got number 1.5');
    expectRejected(
      batch({ visits: [1, 2 ** 53, 3] }),
      'row 1, column visits: expected int64, got number 9007199254740992',
    );
    expectRejected(batch({ active: [true, 'yes', true] }), 'row 1, column active: expected bool, got string "yes"');
    expectRejected(batch({ avatar: [[1, 2], null, null] }), 'row 0, column avatar: expected bytes, got array of 2');
    expectRejected(
      batch({ labels: [['a', 1], null, null] }),
      'row 0, column labels: expected string_list, got array of 2',
    );
    expectRejected(
      batch({ customer_id: [1, 'two', 3] }),
      'row 1, column customer_id: expected int64, got string "two"',
    );
    expectRejected(
      batch({ signup: [1, 'yesterday', 3] }),
      'row 1, column signup: expected timestamp, got string "yesterday"',
    );
  });

  it('rejects a null join key', () => {
    expectRejected(batch({ customer_id: [1, null, 3] }), 'row 1, column customer_id: join key is null');
  });

  it('rejects null in a not_null feature, and an absent not_null column', () => {
    expectRejected(batch({ active: [true, null, true] }), 'row 1, column active: null is not allowed (not_null)');
    expectRejected(batch({ active: undefined }), 'column active: column is missing, but the feature is not_null');
  });

  it('rejects values below min and above max', () => {
    expectRejected(batch({ loyalty_score: [7.5, null, 0] }), 'row 0, column loyalty_score: 7.5 is above max 5');
    expectRejected(batch({ loyalty_score: [1, -0.5, 0] }), 'row 1, column loyalty_score: -0.5 is below min 0');
    expectRejected(
      batch({ recent_orders: [[1, -1], null, null] }),
      'row 0, column recent_orders: element 1: -1 is below min 0',
    );
  });

  it('compares int64 against a bound exactly, beyond 2^53', () => {
    // As doubles 2^53 + 1 and 2^53 are equal; as bigint against the bound it is above.
    expectRejected(
      batch({ visits: [2n ** 53n + 1n, null, null] }),
      'row 0, column visits: 9007199254740993 is above max 9007199254740992',
    );
  });

  it('rejects a value outside allowed_values', () => {
    expectRejected(
      batch({ tier: ['gold', 'platinum', null] }),
      'row 1, column tier: "platinum" is not one of the allowed values "gold", "silver"',
    );
    expectRejected(
      batch({ labels: [['a', 'c'], null, null] }),
      'row 0, column labels: element 1: "c" is not one of the allowed values "a", "b"',
    );
  });

  it('rejects values longer than max_length (characters, bytes, elements)', () => {
    expectRejected(
      batch({ nickname: ['abc', 'abcd', null] }),
      'row 1, column nickname: string of 4 characters is longer than max_length 3',
    );
    // Three characters, six UTF-16 units: within the limit.
    expect(validateWriteBatch(view, batch({ nickname: ['😀😀😀', null, null] })).rowCount).toBe(3);
    expectRejected(
      batch({ avatar: [new Uint8Array(3), null, null] }),
      'row 0, column avatar: 3 bytes is longer than max_length 2',
    );
    expectRejected(
      batch({ recent_orders: [[1, 2, 3], null, null] }),
      'row 0, column recent_orders: list of 3 elements is longer than max_length 2',
    );
  });

  it('rejects a list whose length is not the fixed dimension', () => {
    expectRejected(
      batch({ embedding: [[1, 2], null, null] }),
      'row 0, column embedding: list of 2 elements does not match dimension 3',
    );
  });

  it('rejects NaN unless allow_nan, and ±Infinity always, in lists too', () => {
    expectRejected(
      batch({ loyalty_score: [Number.NaN, null, null] }),
      'row 0, column loyalty_score: NaN is not allowed (allow_nan is false)',
    );
    expectRejected(
      batch({ ratio: [1, Number.POSITIVE_INFINITY, null] }),
      'row 1, column ratio: Infinity is not allowed',
    );
    expectRejected(
      batch({ embedding: [[1, Number.NEGATIVE_INFINITY, 3], null, null] }),
      'row 0, column embedding: element 1: -Infinity is not allowed',
    );
    expectRejected(
      batch({ embedding: [[1, 1e39, 3], null, null] }),
      'row 0, column embedding: element 1: Infinity is not allowed',
    );
    expectRejected(
      batch({ prices: [[Number.NaN], null, null] }),
      'row 0, column prices: element 0: NaN is not allowed (allow_nan is false)',
    );
  });

  it('rejects a string that UTF-8 cannot hold', () => {
    expectRejected(
      batch({ tier: ['gold', '\ud800', null] }),
      'row 1, column tier: "\\ud800" is not valid Unicode (lone surrogate)',
    );
  });

  it('rejects a missing or malformed event timestamp', () => {
    expectRejected(batch({}, [1, null, 3]), 'row 1, event timestamp: missing event timestamp');
    expect(rejection(batch({}, [1, 2, '2024-03-01T10:00:00'])).message).toMatch(
      /^Write to customer_stats@2 rejected: row 2, event timestamp: string "2024-03-01T10:00:00" is not a timestamp; expected an RFC 3339 time with a zone/,
    );
  });

  it('rejects the same entity key at the same event time, naming both rows', () => {
    expectRejected(
      batch({ customer_id: [1, 2, 1n] }, [7, 8, 7]),
      'row 2, column customer_id: duplicate entity key customer_id=1 at the same event time (also in row 0)',
    );
    const error = rejection(
      {
        columns: { customer_id: [1, 1, 1], product_id: ['a', 'b', 'a'], clicks: [1, 2, 3] },
        eventTimestamps: [1, 2, 1],
      },
      pairView,
    );
    expect(error.message).toBe(
      'Write to pair_stats@1 rejected: row 2, columns customer_id, product_id: duplicate entity key customer_id=1, product_id="a" at the same event time (also in row 0)',
    );
  });

  it('accepts several events of one entity at one event time in an event view; online takes the last in batch order', () => {
    const events: RegisteredView = { ...view, kind: 'events' };
    const result = validateWriteBatch(
      events,
      batch({ customer_id: [1, 1, 1n], loyalty_score: [1, 2, 1], active: [true, true, true] }, [7, 7, 7]),
    );
    expect(result.rowCount).toBe(3);
    expect(result.latestRowPerKey).toEqual([2]);
  });

  it("accepts history (one entity at several event times) and picks each entity's latest row for online", () => {
    const result = validateWriteBatch(
      view,
      batch(
        { customer_id: [1, 2, 1n, 1n], loyalty_score: [1, 2, 3, 4], active: [true, true, true, true] },
        [30, 10, 50, 40],
      ),
    );
    expect(result.rowCount).toBe(4);
    // Customer 1: row 2 (event time 50) although row 3 comes later; customer 2: row 1.
    expect(result.latestRowPerKey).toEqual([1, 2]);
  });

  it('collects every problem before throwing and lists the first maxProblems', () => {
    const error = rejection(
      batch(
        {
          bogus: [1, 2, 3],
          loyalty_score: [9, Number.NaN, 'x'],
          active: [true, null, true],
          customer_id: [1, null, 1],
        },
        [1, 'soon', 1],
      ),
    );
    expect(error.message).toBe(
      'Write to customer_stats@2 rejected: column bogus: unknown column: customer_stats@2 has join keys customer_id and features loyalty_score, tier, nickname, avatar, embedding, recent_orders, active, signup, ratio, visits, labels, prices (and 7 more problems)',
    );
    expect(error.details.map((p) => p.path)).toEqual([
      'column bogus',
      'row 0, column loyalty_score',
      'row 1, event timestamp',
      'row 1, column customer_id',
      'row 1, column loyalty_score',
      'row 1, column active',
      'row 2, column loyalty_score',
      'row 2, column customer_id',
    ]);
    const capped = rejection(batch({ loyalty_score: [9, 9, 9] }), view, 2);
    expect(capped.message).toMatch(/row 0, column loyalty_score: 9 is above max 5 \(and 2 more problems\)$/);
    expect(capped.details.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'row 0, column loyalty_score: 9 is above max 5',
      'row 1, column loyalty_score: 9 is above max 5',
      'batch: and 1 more problems not listed',
    ]);
  });
});
