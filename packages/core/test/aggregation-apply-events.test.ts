import { describe, expect, it } from 'vitest';
import {
  DEDUP_MARGIN_MILLIS,
  applyEntityEvents,
  compileAggregationPlan,
  encodeEventRecord,
  eventRecordLayout,
  fingerprintHex,
  mapEventDedup,
  pendingListRecords,
  readAggregations,
  type AggregationFields,
  type AggregationSpec,
  type EntityEventsResult,
  type FeatureValue,
} from '../src/index.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const L = HOUR;
const NOW = 1_733_529_600_000; // a day boundary
const spec = (
  fn: AggregationSpec['function'],
  input: AggregationSpec['input'],
  windowMillis = HOUR,
): AggregationSpec => ({
  function: fn,
  input,
  windowMillis,
  hopMillis: windowMillis === 0 ? 0 : 5 * MIN,
  n: 0,
  precision: 0,
});
// Storage order: 0 amount int64.
const plan = compileAggregationPlan([
  spec('count', null),
  spec('sum', { index: 0, type: 'int64' }),
  spec('count', null, 0),
]);
const layout = eventRecordLayout(plan);
const fp = (b: number): Uint8Array => new Uint8Array(16).fill(b);
const record = (ts: number, id: number, amount: bigint | null): Uint8Array =>
  encodeEventRecord(layout, ts, fp(id), [amount] as FeatureValue[]);

/** One entity's stored state across batches, as a store keeps it. */
class Entity {
  readonly fields: AggregationFields = new Map();
  pending: Uint8Array | undefined;
  readonly dedup = new Map<string, number>();

  apply(records: Uint8Array[], acceptedAtMillis: number): EntityEventsResult {
    const result = applyEntityEvents({
      plan,
      generation: 1,
      acceptedAtMillis,
      latenessMillis: L,
      fields: this.fields,
      pending: this.pending,
      dedup: mapEventDedup(this.dedup),
      records,
    });
    if (result.pendingChanged) this.pending = result.pending ?? undefined;
    return result;
  }

  read(t: number): FeatureValue[] {
    return readAggregations(plan, this.fields, t);
  }
}

describe('applyEntityEvents (the per-entity step of an event write, §3.3)', () => {
  it('folds new events and reports every field it changed, generation G per event', () => {
    const e = new Entity();
    const r = e.apply([record(NOW - 1000, 1, 5n), record(NOW - 10, 2, 7n)], NOW);
    expect(r.duplicates).toBe(0);
    expect(r.generations).toEqual([1, 1]);
    expect([...r.changed].sort()).toEqual(['life', 't5']);
    expect(r.pendingChanged).toBe(false);
    expect(r.newestEventTsMillis).toBe(NOW - 10);
    expect(e.read(NOW)).toEqual([2n, 12n, 2n]);
  });

  it('reports a field changed in place when the store handed it as a Node Buffer (slice() of a Buffer is a view)', () => {
    const e = new Entity();
    e.apply([record(NOW - 1000, 1, 5n)], NOW);
    // As the Redis client and LMDB return them: Buffers over the stored bytes.
    for (const [name, bytes] of e.fields) e.fields.set(name, Buffer.from(bytes));
    const r = e.apply([record(NOW - 500, 2, 7n)], NOW);
    expect([...r.changed].sort()).toEqual(['life', 't5']);
    expect(e.read(NOW)).toEqual([2n, 12n, 2n]);
  });

  it('counts a duplicate in the same batch once', () => {
    const e = new Entity();
    const r = e.apply([record(NOW - 5, 1, 5n), record(NOW - 5, 1, 5n), record(NOW - 5, 1, 5n)], NOW);
    expect(r.duplicates).toBe(2);
    expect(r.generations).toEqual([1, 1, 1]);
    expect(e.read(NOW)).toEqual([1n, 5n, 1n]);
  });

  it('counts a duplicate across batches once and changes no field', () => {
    const e = new Entity();
    e.apply([record(NOW - 5, 1, 5n)], NOW);
    const r = e.apply([record(NOW - 5, 1, 5n)], NOW + 1000);
    expect(r.duplicates).toBe(1);
    expect(r.generations).toEqual([1]);
    expect(r.changed).toEqual([]);
    expect(e.read(NOW + 1000)).toEqual([1n, 5n, 1n]);
  });

  it('keeps a future event pending and folds it once a later acceptedAt passes it', () => {
    const e = new Entity();
    const r1 = e.apply([record(NOW + 30_000, 1, 5n), record(NOW + 10_000, 2, 1n)], NOW);
    expect(r1.pendingChanged).toBe(true);
    expect(r1.changed).toEqual([]);
    expect(pendingListRecords(r1.pending as Uint8Array)).toHaveLength(2);
    expect(e.read(NOW + 60_000)).toEqual([0n, 0n, 0n]); // the fields alone; reads add pending events
    // A later batch accepted between the two folds the first only (in (ts, fp) order).
    const r2 = e.apply([], NOW + 20_000);
    expect(r2.pendingChanged).toBe(true);
    expect(pendingListRecords(r2.pending as Uint8Array)).toHaveLength(1);
    expect(e.read(NOW + 20_000)).toEqual([1n, 1n, 1n]);
    const r3 = e.apply([record(NOW + 30_000, 1, 5n)], NOW + 40_000); // a retry of the pending one
    expect(r3.duplicates).toBe(1);
    expect(r3.pendingChanged).toBe(true);
    expect(r3.pending).toBeNull();
    expect(e.read(NOW + 40_000)).toEqual([2n, 6n, 2n]);
    const r4 = e.apply([], NOW + 50_000);
    expect(r4.pendingChanged).toBe(false);
  });

  it('forgets dedup entries older than acceptedAt − L − 60 s (a copy that old is late by then)', () => {
    const e = new Entity();
    e.apply([record(NOW - 100, 1, 5n), record(NOW, 2, 6n)], NOW);
    const later = NOW - 100 + L + DEDUP_MARGIN_MILLIS + 1;
    e.apply([], later);
    expect([...e.dedup.keys()]).toEqual([fingerprintHex(fp(2))]);
    // Exactly at the boundary the entry stays (ts-score < cutoff is forgotten, not ≤).
    e.apply([], NOW + L + DEDUP_MARGIN_MILLIS);
    expect(e.dedup.size).toBe(1);
  });

  it('prunes tiles no later read includes, and reports the pruned list as changed', () => {
    const e = new Entity();
    e.apply([record(NOW - 10 * MIN, 1, 5n)], NOW);
    const r = e.apply([record(NOW + 3 * HOUR, 2, 7n)], NOW + 3 * HOUR);
    expect(r.changed).toContain('t5');
    // Only the new tile is left: the old one is outside every window from now on.
    const list = e.fields.get('t5') as Uint8Array;
    expect(new DataView(list.buffer, list.byteOffset).getUint32(4, true)).toBe(1);
    expect(e.read(NOW + 3 * HOUR)).toEqual([1n, 7n, 2n]);
  });

  it('is deterministic: the same batches give byte-identical fields whatever the batch split', () => {
    const events = [
      record(NOW - 7, 3, 1n),
      record(NOW + 5, 4, 2n),
      record(NOW - 7, 3, 1n),
      record(NOW - 2 * MIN, 5, null),
    ];
    const a = new Entity();
    a.apply(events, NOW);
    a.apply([], NOW + 10);
    const b = new Entity();
    b.apply(events.slice(0, 2), NOW);
    b.apply(events.slice(2), NOW + 10);
    expect([...a.fields.keys()].sort()).toEqual([...b.fields.keys()].sort());
    for (const [name, bytes] of a.fields)
      expect(Buffer.from(b.fields.get(name) as Uint8Array)).toEqual(Buffer.from(bytes));
    expect(a.read(NOW + 10)).toEqual([3n, 3n, 3n]);
  });
});
