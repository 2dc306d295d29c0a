/** Computed training-set columns (on-demand features) to Arrow: every type, nulls, read back equal. */
import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import type { TypedColumn } from '@tessera/core';
import { typedColumnsToArrow } from '../src/index.js';

describe('typedColumnsToArrow', () => {
  it('writes every column type with nulls and reads back the same values and Arrow types', () => {
    const columns: TypedColumn[] = [
      { name: 'customer_id', type: 'int64', values: [1n, -(2n ** 63n), null] },
      { name: 'event_ts', type: 'timestamp', values: [1_700_000_000_123, 0, null] },
      { name: 'x__d', type: 'double', values: [0.1, Number.NaN, null] },
      { name: 'x__s', type: 'string', values: ['é', '', null] },
      { name: 'x__b', type: 'bool', values: [true, false, null] },
      { name: 'x__y', type: 'bytes', values: [Uint8Array.from([0, 255]), new Uint8Array(0), null] },
      { name: 'x__dl', type: 'double_list', values: [Float64Array.from([1.5, 2]), new Float64Array(0), null] },
      { name: 'x__il', type: 'int64_list', values: [BigInt64Array.from([3n]), new BigInt64Array(0), null] },
      { name: 'x__sl', type: 'string_list', values: [['a', 'b'], [], null] },
    ];
    const table = tableFromIPC(typedColumnsToArrow(columns, 3));
    expect(table.numRows).toBe(3);
    expect(table.schema.fields.map((f) => [f.name, String(f.type)])).toEqual([
      ['customer_id', 'Int64'],
      ['event_ts', 'Timestamp<MILLISECOND, UTC>'],
      ['x__d', 'Float64'],
      ['x__s', 'Utf8'],
      ['x__b', 'Bool'],
      ['x__y', 'Binary'],
      ['x__dl', 'List<Float64>'],
      ['x__il', 'List<Int64>'],
      ['x__sl', 'List<Utf8>'],
    ]);
    const read = (name: string) =>
      [0, 1, 2].map((row) => {
        const value = table.getChild(name)!.get(row) as unknown;
        return value !== null && typeof value === 'object' && 'toArray' in value
          ? Array.from((value as { toArray(): ArrayLike<unknown> }).toArray())
          : value;
      });
    expect(read('customer_id')).toEqual([1n, -(2n ** 63n), null]);
    expect(read('event_ts')).toEqual([1_700_000_000_123, 0, null]);
    expect(read('x__d')).toEqual([0.1, Number.NaN, null]);
    expect(read('x__s')).toEqual(['é', '', null]);
    expect(read('x__b')).toEqual([true, false, null]);
    expect(read('x__y')).toEqual([Uint8Array.from([0, 255]), new Uint8Array(0), null]);
    expect(read('x__dl')).toEqual([[1.5, 2], [], null]);
    expect(read('x__il')).toEqual([[3n], [], null]);
    expect(read('x__sl')).toEqual([['a', 'b'], [], null]);
  });
});
