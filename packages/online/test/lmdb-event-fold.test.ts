import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyEntityEvents,
  compileAggregationPlan,
  encodeEventRecord,
  eventRecordLayout,
  mapEventDedup,
  pendingListRecords,
  readAggregations,
  type AggregationFields,
  type AggregationSpec,
  type FeatureValue,
  type OnlineEvents,
} from '@tessera/core';
import { LmdbOnlineStore } from '../src/index.js';
import { DEADLINE_STEP_MILLIS } from '../src/lmdb-event-fold.js';
import { packRow } from './online-store-suite.js';

const directories: string[] = [];
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});
function freshStore(): LmdbOnlineStore {
  const directory = mkdtempSync(join(tmpdir(), 'tessera-lmdb-events-'));
  directories.push(directory);
  return new LmdbOnlineStore({ path: directory, sweepIntervalMillis: 0 });
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = Date.now();
/** A deadline as the store keeps it: rounded up to its step. */
const upToStep = (millis: number): number => Math.ceil(millis / DEADLINE_STEP_MILLIS) * DEADLINE_STEP_MILLIS;
const spec = (
  fn: AggregationSpec['function'],
  input: AggregationSpec['input'],
  windowMillis = HOUR,
): AggregationSpec => ({
  function: fn,
  input,
  windowMillis,
  hopMillis: windowMillis === 0 ? 0 : 5 * MIN,
  n: fn === 'last_n' ? 2 : 0,
  precision: fn === 'approx_distinct' ? 10 : 0,
});
const plan = compileAggregationPlan([
  spec('count', null),
  spec('sum', { index: 0, type: 'int64' }),
  spec('approx_distinct', { index: 1, type: 'string' }),
  spec('last_n', { index: 1, type: 'string' }),
  spec('count', null, 0),
]);
const layout = eventRecordLayout(plan);
const fp = (b: number): Uint8Array => new Uint8Array(16).fill(b);
const record = (ts: number, id: number, amount: bigint, name: string): Uint8Array =>
  encodeEventRecord(layout, ts, fp(id), [amount, name] as FeatureValue[]);
const FIELD = '7.1';
const NAMES = ['t5', 'life', 't5.a2', 'n1'];

function events(acceptedAtMillis: number, entities: number[], records: Uint8Array[]): OnlineEvents {
  return { plan, generation: 1, acceptedAtMillis, latenessMillis: HOUR, retentionMillis: 3 * HOUR, entities, records };
}

async function readFields(
  store: LmdbOnlineStore,
  key: string,
): Promise<{ fields: AggregationFields; pending: Uint8Array | null }> {
  const names = NAMES.map((n) => `${FIELD}.g1.${n}`);
  const [row = []] = await store.read([{ key, fields: [...names, `${FIELD}.pend`] }]);
  const fields: AggregationFields = new Map();
  NAMES.forEach((n, i) => {
    const bytes = row[i];
    if (bytes !== null && bytes !== undefined) fields.set(n, new Uint8Array(bytes));
  });
  return { fields, pending: row[NAMES.length] ?? null };
}

describe('LmdbOnlineStore with events (the TS twin in the write transaction)', () => {
  it('folds events beside the LWW row, answers duplicates and generations, keeps future ones pending', async () => {
    const store = freshStore();
    const batch = [
      record(NOW - 10, 1, 5n, 'a'),
      record(NOW - 5, 2, 7n, 'b'),
      record(NOW - 10, 1, 5n, 'a'),
      record(NOW + 20_000, 3, 1n, 'c'),
    ];
    const result = await store.write({
      field: FIELD,
      ttlMillis: 0,
      keys: ['{c:1}', '{c:2}'],
      rows: [packRow(NOW - 5, 'x'), packRow(NOW, 'y')],
      events: events(NOW, [0, 0, 0, 1], batch),
    });
    expect(result).toMatchObject({ applied: 2, stale: 0, duplicateEvents: 1 });
    expect([...(result.eventGenerations ?? [])]).toEqual([1, 1, 1, 1]);
    const one = await readFields(store, '{c:1}');
    expect(readAggregations(plan, one.fields, NOW)).toEqual([2n, 12n, 2n, ['b', 'a'], 2n]);
    expect(one.pending).toBeNull();
    const two = await readFields(store, '{c:2}');
    expect(two.fields.size).toBe(0);
    expect(pendingListRecords(two.pending as Uint8Array)).toHaveLength(1);
    // A replay of the whole batch changes no aggregate and reports every event as a duplicate.
    const replay = await store.write({
      field: FIELD,
      ttlMillis: 0,
      keys: ['{c:1}', '{c:2}'],
      rows: [packRow(NOW - 5, 'x'), packRow(NOW, 'y')],
      events: events(NOW + 1, [0, 0, 0, 1], batch),
    });
    expect(replay.duplicateEvents).toBe(4);
    expect(readAggregations(plan, (await readFields(store, '{c:1}')).fields, NOW)).toEqual([
      2n,
      12n,
      2n,
      ['b', 'a'],
      2n,
    ]);
    // A later batch with an event of the entity passes the pending event's time: it is folded.
    // (An entity without events in a batch is not touched: its pending events join reads at t.)
    await store.write({
      field: FIELD,
      ttlMillis: 0,
      keys: ['{c:2}'],
      rows: [packRow(NOW, 'y')],
      events: events(NOW + 30_000, [], []),
    });
    expect((await readFields(store, '{c:2}')).pending).not.toBeNull();
    await store.write({
      field: FIELD,
      ttlMillis: 0,
      keys: ['{c:2}'],
      rows: [packRow(NOW, 'y')],
      events: events(NOW + 30_000, [0], [record(NOW + 20_000, 3, 1n, 'c')]),
    });
    const later = await readFields(store, '{c:2}');
    expect(later.pending).toBeNull();
    expect(readAggregations(plan, later.fields, NOW + 30_000)).toEqual([1n, 1n, 1n, ['c'], 1n]);
    await store.close();
  });

  it('leaves the same bytes as the pure step over a map (what the Redis script must match too)', async () => {
    const store = freshStore();
    const fields: AggregationFields = new Map();
    const dedup = new Map<string, number>();
    let pending: Uint8Array | undefined;
    const batches = [
      { at: NOW, records: [record(NOW - 3 * MIN, 1, 1n, 'a'), record(NOW + 1000, 2, 2n, 'b')] },
      { at: NOW + 2000, records: [record(NOW - 3 * MIN, 1, 1n, 'a'), record(NOW - 40 * MIN, 3, -4n, 'c')] },
      { at: NOW + 2 * HOUR, records: [record(NOW + 2 * HOUR - 1, 4, 9n, 'a')] },
    ];
    for (const b of batches) {
      await store.write({
        field: FIELD,
        ttlMillis: 0,
        keys: ['{c:9}'],
        rows: [packRow(b.at, 'r')],
        events: events(
          b.at,
          b.records.map(() => 0),
          b.records,
        ),
      });
      const r = applyEntityEvents({
        plan,
        generation: 1,
        acceptedAtMillis: b.at,
        latenessMillis: HOUR,
        fields,
        pending,
        dedup: mapEventDedup(dedup),
        records: b.records,
      });
      if (r.pendingChanged) pending = r.pending ?? undefined;
    }
    const stored = await readFields(store, '{c:9}');
    expect([...stored.fields.keys()].sort()).toEqual([...fields.keys()].sort());
    for (const [name, bytes] of fields)
      expect(Buffer.from(stored.fields.get(name) as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
    expect(stored.pending).toBeNull();
    expect(pending).toBeUndefined();
    await store.close();
  });

  it('expires the aggregation entries retention after the newest event, and the dedup set L + 60 s after its last write (never earlier, at most a deadline step later)', async () => {
    const store = freshStore();
    const write = (key: string, at: number, recorded: Uint8Array[]) =>
      store.write({
        field: FIELD,
        ttlMillis: 0,
        keys: [key],
        rows: [packRow(NOW, 'r')],
        events: events(
          at,
          recorded.map(() => 0),
          recorded,
        ),
      });
    await write('{c:3}', NOW, [record(NOW - 1, 1, 1n, 'a')]);
    const setDue = upToStep(NOW + HOUR + MIN);
    expect(store.sweep(NOW + HOUR + MIN - 1)).toBe(0);
    expect(store.sweep(setDue - 1)).toBe(0);
    expect(store.sweep(setDue)).toBe(1); // the dedup set
    const replay = await write('{c:3}', NOW, [record(NOW - 1, 1, 1n, 'a')]);
    expect(replay.duplicateEvents).toBe(0); // the set is gone (in real life such a copy is late)
    expect(store.sweep(setDue)).toBe(1); // the replay made it anew
    // A pending event keeps the set until a copy of it would be late: its ts + L + 60 s.
    await write('{c:4}', NOW, [record(NOW + 30_000, 1, 1n, 'a')]);
    expect(store.sweep(NOW + HOUR + MIN + 29_999)).toBe(0);
    expect(store.sweep(upToStep(NOW + HOUR + MIN + 30_000))).toBe(1);
    // Retention after the newest event: tiles gone, the plain row stays.
    const tilesOf = async () => (await store.read([{ key: '{c:3}', fields: [FIELD, `${FIELD}.g1.t5`] }]))[0] ?? [];
    store.sweep(NOW + 3 * HOUR - 2);
    expect((await tilesOf())[1]).not.toBeNull();
    store.sweep(upToStep(NOW + 3 * HOUR - 1));
    const [row, tiles] = await tilesOf();
    expect(row).not.toBeNull();
    expect(tiles).toBeNull();
    await store.close();
  });

  it('answers as a dedup set forgotten on every write, though it forgets lazily (an entry below the bound is no duplicate)', async () => {
    const store = freshStore();
    const dedup = new Map<string, number>();
    const fields: AggregationFields = new Map();
    let pending: Uint8Array | undefined;
    const e1 = record(NOW, 1, 1n, 'a');
    // The second write keeps e1 (30 s above its bound); the third's bound passed e1 by 1 ms, but the
    // set forgets only after the step (when its deadline moves), so e1 is still stored when it asks.
    const batches = [
      { at: NOW, records: [e1] },
      { at: NOW + HOUR + MIN - 30_000, records: [record(NOW + 10, 2, 2n, 'b')] },
      { at: NOW + HOUR + MIN + 1, records: [e1, record(NOW + 20, 3, 3n, 'c')] },
      { at: NOW + HOUR + MIN + 2, records: [e1] },
    ];
    const duplicates: number[] = [];
    const expected: number[] = [];
    for (const b of batches) {
      const written = await store.write({
        field: FIELD,
        ttlMillis: 0,
        keys: ['{c:5}'],
        rows: [packRow(b.at, 'r')],
        events: events(
          b.at,
          b.records.map(() => 0),
          b.records,
        ),
      });
      duplicates.push(written.duplicateEvents ?? -1);
      const r = applyEntityEvents({
        plan,
        generation: 1,
        acceptedAtMillis: b.at,
        latenessMillis: HOUR,
        fields,
        pending,
        dedup: mapEventDedup(dedup),
        records: b.records,
      });
      if (r.pendingChanged) pending = r.pending ?? undefined;
      expected.push(r.duplicates);
    }
    // Below the bound, e1 is no duplicate (and too old to be remembered again: taken each time).
    expect(expected).toEqual([0, 0, 0, 0]);
    expect(duplicates).toEqual(expected);
    const stored = await readFields(store, '{c:5}');
    expect([...stored.fields.keys()].sort()).toEqual([...fields.keys()].sort());
    for (const [name, bytes] of fields)
      expect(Buffer.from(stored.fields.get(name) as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
    await store.close();
  });
});
