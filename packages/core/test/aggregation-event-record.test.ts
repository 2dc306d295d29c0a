import { describe, expect, it } from 'vitest';
import {
  compileAggregationPlan,
  decodeEventRecord,
  encodeEventRecord,
  encodePendingList,
  eventRecordLayout,
  hllCodeOfInt64,
  hllCodeOfString,
  pendingListRecords,
  type AggregationSpec,
  type FeatureValue,
} from '../src/index.js';

const H = 3_600_000;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const agg = (
  fn: AggregationSpec['function'],
  input: AggregationSpec['input'],
  more: Partial<AggregationSpec> = {},
) => ({ function: fn, input, windowMillis: 7 * 24 * H, hopMillis: H, n: 0, precision: 0, ...more });

// A view whose storage order is: 0 amount double, 1 note string (unused), 2 product string, 3 qty int64, 4 flag bool.
const plan = compileAggregationPlan([
  agg('count', null),
  agg('sum', { index: 3, type: 'int64' }),
  agg('approx_distinct', { index: 2, type: 'string' }, { precision: 12 }),
  agg('mean', { index: 0, type: 'double' }),
  agg('last', { index: 4, type: 'bool' }),
  agg('approx_distinct', { index: 3, type: 'int64' }, { precision: 10 }),
]);
const fp = (b: number): Uint8Array => new Uint8Array(16).fill(b);

describe('event record (the online stores’ event encoding)', () => {
  it('lists the distinct inputs in storage order and the HLL inputs by position', () => {
    const layout = eventRecordLayout(plan);
    expect(layout.inputs).toEqual([0, 2, 3, 4]);
    expect(layout.types).toEqual(['double', 'string', 'int64', 'bool']);
    expect(layout.hll).toEqual([
      { input: 1, precision: 12 },
      { input: 2, precision: 10 },
    ]);
    expect(eventRecordLayout(plan)).toBe(layout);
  });

  it('encodes golden bytes: ts, fp, null bits, values, HLL codes of the non-null inputs', () => {
    const layout = eventRecordLayout(plan);
    const values: FeatureValue[] = [-0, 'ignored', null, -5n, true];
    const bytes = encodeEventRecord(layout, 1_700_000_000_123, fp(0xab), values);
    const code = hllCodeOfInt64(-5n, 10);
    const expected = Buffer.alloc(8 + 16 + 1 + 8 + 8 + 8 + 4);
    expected.writeDoubleLE(1_700_000_000_123, 0);
    expected.fill(0xab, 8, 24);
    expected[24] = 0b0010; // input 1 (product) is null
    expected.writeDoubleLE(0, 25); // −0 written as +0
    expected.writeBigInt64LE(-5n, 33);
    expected[41] = 1;
    expected.writeUInt32LE(code, 49);
    expect(hex(bytes)).toBe(hex(expected));
  });

  it('decodes what it encodes, values by storage index, and says where the record ends', () => {
    const layout = eventRecordLayout(plan);
    const values: FeatureValue[] = [2.5, 'x', 'pr\u00f6duct', 9_223_372_036_854_775_807n, false];
    const bytes = encodeEventRecord(layout, -86_400_000, fp(1), values);
    const padded = new Uint8Array(bytes.byteLength + 7);
    padded.set(bytes, 3);
    const { record, end } = decodeEventRecord(layout, padded, 3);
    expect(end).toBe(3 + bytes.byteLength);
    expect(record.tsMillis).toBe(-86_400_000);
    expect(hex(record.fp)).toBe(hex(fp(1)));
    expect(record.values).toEqual([2.5, null, 'pr\u00f6duct', 9_223_372_036_854_775_807n, false]);
    const codes = new DataView(bytes.buffer).getUint32(bytes.byteLength - 8, true);
    expect(codes).toBe(hllCodeOfString('pr\u00f6duct', 12));
  });

  it('keeps a pending list sorted by (ts, fp) without repeats', () => {
    const layout = eventRecordLayout(plan);
    const rec = (ts: number, b: number): Uint8Array => encodeEventRecord(layout, ts, fp(b), [1, null, 'a', 1n, true]);
    const list = encodePendingList([rec(20, 2), rec(10, 9), rec(20, 1), rec(10, 9)]);
    expect(list[0]).toBe(1);
    const records = pendingListRecords(list);
    expect(records.map((r) => [decodeEventRecord(layout, r).record.tsMillis, r[8]])).toEqual([
      [10, 9],
      [20, 1],
      [20, 2],
    ]);
    expect(() => pendingListRecords(new Uint8Array([7, 0, 0, 0, 0]))).toThrow(/unknown format 7/);
  });
});
