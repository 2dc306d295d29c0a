import { describe, expect, it } from 'vitest';
import type { ValueType } from '@tessera/core';
import { TesseraClientError, fromColumn, toWriteBatches } from '../src/index.js';

const TYPES = new Map<string, ValueType>([
  ['user_id', 'int64'],
  ['score', 'double'],
  ['seen_at', 'timestamp'],
  ['tags', 'string_list'],
]);
const options = { batchRows: 2, eventTimestampField: 'event_timestamp' };

describe('toWriteBatches', () => {
  it('types rows by the view, splits them into batches and turns times into ms', () => {
    const batches = toWriteBatches(
      'v',
      TYPES,
      ['user_id'],
      [
        { user_id: 1n, score: 0.5, seen_at: new Date('2026-01-01T00:00:00Z'), event_timestamp: 1_000 },
        { user_id: 2n, tags: ['a'], event_timestamp: '2026-01-01T00:00:01Z' },
        { user_id: 3n, score: null, event_timestamp: new Date(3_000) },
      ],
      options,
    );
    expect(batches.map((b) => b.rows)).toEqual([2, 1]);
    expect(fromColumn(batches[0]!.columns['user_id']!)).toEqual([1n, 2n]);
    expect(fromColumn(batches[0]!.columns['score']!)).toEqual([0.5, null]);
    expect(fromColumn(batches[0]!.columns['seen_at']!)).toEqual([Date.parse('2026-01-01T00:00:00Z'), null]);
    expect(fromColumn(batches[0]!.columns['tags']!)).toEqual([null, ['a']]);
    expect(fromColumn(batches[0]!.eventTimestamps)).toEqual([1_000, Date.parse('2026-01-01T00:00:01Z')]);
    expect(fromColumn(batches[1]!.eventTimestamps)).toEqual([3_000]);
  });

  it('takes columns as well as rows', () => {
    const batches = toWriteBatches(
      'v',
      TYPES,
      ['user_id'],
      { columns: { user_id: [1n, 2n, 3n], score: [1, 2, 3] }, eventTimestamps: [1, 2, 3] },
      { ...options, batchRows: 10 },
    );
    expect(batches.map((b) => b.rows)).toEqual([3]);
  });

  /** The error `write` throws, for its code, message and problem list. */
  function refusal(write: () => unknown): TesseraClientError {
    try {
      write();
    } catch (error) {
      expect(error).toBeInstanceOf(TesseraClientError);
      return error as TesseraClientError;
    }
    throw new Error('expected a refusal');
  }

  it('refuses a column the view does not have, in the words of the server, naming it and the view', () => {
    const error = refusal(() =>
      toWriteBatches('v@3', TYPES, ['user_id'], [{ user_id: 1n, height: 2, event_timestamp: 1 }], options),
    );
    expect([error.code, error.grpcCodeName]).toEqual(['INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
    expect(error.message).toBe(
      'Write to v@3 rejected: column height: unknown column: v@3 has join keys user_id and features score, seen_at, tags',
    );
    expect(error.problems).toEqual([
      {
        file: 'write v@3',
        path: 'column height',
        message: 'unknown column: v@3 has join keys user_id and features score, seen_at, tags',
      },
    ]);
  });

  it('refuses a value that does not fit its column, naming its row and column', () => {
    const error = refusal(() =>
      toWriteBatches(
        'v@3',
        TYPES,
        ['user_id'],
        [
          { user_id: 1n, event_timestamp: 1 },
          { user_id: 2n, event_timestamp: 1 },
          { user_id: 'x', event_timestamp: 1 },
        ],
        options,
      ),
    );
    expect(error.message).toBe('Write to v@3 rejected: row 2, column user_id: expected int64, got string "x"');
    expect(error.problems.map((p) => p.path)).toEqual(['row 2, column user_id']);
    expect(
      refusal(() =>
        toWriteBatches('v@3', TYPES, ['user_id'], [{ user_id: 1n, seen_at: 'later', event_timestamp: 1 }], options),
      ).problems[0]?.path,
    ).toBe('row 0, column seen_at');
  });

  it('refuses a row without an event time, naming the row and the field', () => {
    expect(() =>
      toWriteBatches('v', TYPES, ['user_id'], [{ user_id: 1n, event_timestamp: 1 }, { user_id: 2n }], options),
    ).toThrow('row 1: no event time (field event_timestamp)');
    expect(
      refusal(() =>
        toWriteBatches('v', TYPES, ['user_id'], [{ user_id: 1n, event_timestamp: 1 }, { user_id: 2n }], options),
      ).problems[0]?.path,
    ).toBe('row 1');
  });

  it('refuses an event time that is not a time, naming the row', () => {
    expect(() => toWriteBatches('v', TYPES, ['user_id'], [{ user_id: 1n, event_timestamp: 'soon' }], options)).toThrow(
      /row 0, event time: expected a time .* got "soon"/,
    );
  });

  it('refuses columns without the join key, and columns of unequal length', () => {
    expect(() =>
      toWriteBatches('v', TYPES, ['user_id'], { columns: { score: [1] }, eventTimestamps: [1] }, options),
    ).toThrow('column user_id: the join key column is missing');
    expect(() =>
      toWriteBatches('v', TYPES, ['user_id'], { columns: { user_id: [1n, 2n] }, eventTimestamps: [1] }, options),
    ).toThrow('column user_id: has 2 values for 1 event times');
  });
});
