/**
 * mergeTileRange merges a window's records slot by slot when the layout allows it (f64 counts and
 * sums, timestamp min/max): the bytes it leaves equal those of merging record by record with
 * mergeRecord — the reference — for random lists, windows and layouts, and for layouts that take the
 * record-by-record path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileTileLayout,
  foldIntoTileList,
  mergeRecord,
  mergeTileRange,
  newRecord,
  type AggregationSpec,
  type TileLayout,
} from '../src/index.js';

const H = 3_600_000;
const D = { index: 0, type: 'double' as const };
const I = { index: 1, type: 'int64' as const };
const spec = (fn: AggregationSpec['function'], input: AggregationSpec['input']): AggregationSpec => ({
  function: fn,
  input: fn === 'count' || fn === 'first_ts' || fn === 'last_ts' ? null : input,
  windowMillis: 7 * 24 * H,
  hopMillis: H,
  n: 0,
  precision: 0,
});
const COLUMN_LAYOUT = compileTileLayout([
  spec('count', null),
  spec('sum', D),
  spec('mean', D),
  spec('first_ts', null),
  spec('last_ts', null),
]);
const RECORD_LAYOUT = compileTileLayout([spec('count', null), spec('sum', I), spec('min', D), spec('last', D)]);
const fp = new Uint8Array(16).fill(7);

/** The reference: every record whose tile index is in [lo, hi], one mergeRecord each. */
function reference(list: Uint8Array, layout: TileLayout, lo: number, hi: number): Uint8Array {
  const acc = newRecord(layout);
  const view = new DataView(list.buffer, list.byteOffset, list.byteLength);
  const stride = 4 + layout.recordBytes;
  for (let at = 16; at < list.byteLength; at += stride) {
    const index = view.getInt32(at, true);
    if (index >= lo && index <= hi) mergeRecord(layout, acc, 0, view, at + 4);
  }
  return new Uint8Array(acc.buffer, acc.byteOffset, acc.byteLength);
}

const events = fc.array(
  fc.record({
    ts: fc.integer({ min: -5 * H, max: 40 * H }),
    // Sevenths at many magnitudes: float sums that depend on the order of the additions.
    d: fc.oneof(
      fc.constant(null),
      fc.tuple(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: -8, max: 8 })).map(([n, e]) => (n / 7) * 10 ** e),
    ),
    i: fc.oneof(fc.constant(null), fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n })),
  }),
  { minLength: 1, maxLength: 60 },
);

describe('mergeTileRange', () => {
  for (const [name, layout] of [
    ['slot by slot', COLUMN_LAYOUT],
    ['record by record', RECORD_LAYOUT],
  ] as const) {
    it(`equals a record-by-record merge to the bit (${name})`, () => {
      fc.assert(
        fc.property(events, fc.integer({ min: -8, max: 42 }), fc.integer({ min: 0, max: 50 }), (evs, lo, width) => {
          let list: Uint8Array | undefined;
          for (const e of evs) list = foldIntoTileList(list, layout, H, e.ts, fp, [e.d, e.i]);
          const acc = newRecord(layout);
          const merged = mergeTileRange(list!, layout, lo, lo + width, acc, 0);
          const expected = reference(list!, layout, lo, lo + width);
          expect(Buffer.from(acc.buffer, acc.byteOffset, acc.byteLength).toString('hex')).toBe(
            Buffer.from(expected).toString('hex'),
          );
          const indexes = new Set(evs.map((e) => Math.floor(e.ts / H)));
          expect(merged).toBe([...indexes].filter((x) => x >= lo && x <= lo + width).length);
        }),
        { numRuns: 400 },
      );
    });
  }
});
