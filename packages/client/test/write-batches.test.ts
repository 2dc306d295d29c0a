import { describe, expect, it } from 'vitest';
import type { ValueType } from '@tessera/core';
import { fromColumn, toWriteBatches } from '../src/index.js';

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

  it('refuses a column the view does not have, naming it and the view', () => {
    expect(() =>
      toWriteBatches('v', TYPES, ['user_id'], [{ user_id: 1n, height: 2, event_timestamp: 1 }], options),
    ).toThrow(/write v: column height is neither a join key nor a feature/);
  });

  it('refuses a row without an event time, naming the row and the field', () => {
    expect(() =>
      toWriteBatches('v', TYPES, ['user_id'], [{ user_id: 1n, event_timestamp: 1 }, { user_id: 2n }], options),
    ).toThrow('row 1: no event time (field event_timestamp)');
  });

  it('refuses an event time that is not a time, naming the row', () => {
    expect(() => toWriteBatches('v', TYPES, ['user_id'], [{ user_id: 1n, event_timestamp: 'soon' }], options)).toThrow(
      /row 0, event time: expected a time .* got "soon"/,
    );
  });

  it('refuses columns without the join key, and columns of unequal length', () => {
    expect(() =>
      toWriteBatches('v', TYPES, ['user_id'], { columns: { score: [1] }, eventTimestamps: [1] }, options),
    ).toThrow('join key column user_id is missing');
    expect(() =>
      toWriteBatches('v', TYPES, ['user_id'], { columns: { user_id: [1n, 2n] }, eventTimestamps: [1] }, options),
    ).toThrow('column user_id has 2 values for 1 event times');
  });
});
