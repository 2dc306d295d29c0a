import { describe, expect, it } from 'vitest';
import { isTesseraError, type FeatureValue, type ValueType } from '@tessera/core';
import { ValueType as ProtoValueType } from '@tessera/proto';
import {
  columnRowCount,
  columnValueType,
  fromColumn,
  fromProtoValueType,
  toColumn,
  toProtoValueType,
} from '../src/index.js';

const SAMPLES: Record<ValueType, FeatureValue[]> = {
  int64: [1n, null, -9007199254740993n],
  double: [1.5, null, -0],
  string: ['a', null, 'é'],
  bool: [true, null, false],
  timestamp: [1_700_000_000_000, null, 0],
  bytes: [new Uint8Array([1, 2]), null, new Uint8Array([])],
  float_list: [Float32Array.from([0.5, 1]), null, Float32Array.from([])],
  double_list: [Float64Array.from([0.1]), null, Float64Array.from([2, 3])],
  int64_list: [BigInt64Array.from([1n, 2n]), null, BigInt64Array.from([])],
  string_list: [['x', 'y'], null, []],
};

describe('wire columns', () => {
  for (const [type, values] of Object.entries(SAMPLES) as [ValueType, FeatureValue[]][]) {
    it(`reads back the ${type} values it wrote, nulls included`, () => {
      const column = toColumn(type, values);
      expect(columnValueType(column)).toBe(type);
      expect(columnRowCount(column)).toBe(values.length);
      expect(column.nullRows).toEqual([1]);
      expect(fromColumn(column)).toEqual(values);
    });
  }

  it('maps every value type to its wire enum and back', () => {
    for (const type of Object.keys(SAMPLES) as ValueType[]) {
      expect(fromProtoValueType(toProtoValueType(type))).toBe(type);
    }
    expect(fromProtoValueType(ProtoValueType.VALUE_TYPE_UNSPECIFIED)).toBeUndefined();
  });

  it('refuses a null row past the last row with INVALID_ARGUMENT naming the row', () => {
    const column = { ...toColumn('double', [1, 2]), nullRows: [2] };
    expect(() => fromColumn(column)).toThrow(/null_rows names row 2, but the column has 2 rows/);
  });

  it('refuses list values the lengths do not account for', () => {
    const column = toColumn('double_list', [Float64Array.from([1, 2])]);
    if (column.kind?.$case !== 'doubleListValues') throw new Error('expected a double list column');
    column.kind.value.values.push(3);
    let error: unknown;
    try {
      fromColumn(column);
    } catch (e) {
      error = e;
    }
    expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
    expect((error as Error).message).toMatch(/lengths add up to 2 values but the column holds 3/);
  });
});
