// The embedded store's increment-13 layout (design §3.5): one state entry and one dedup value per
// (entity, field, generation). Golden bytes of both containers, the mapping of requested field names
// onto them, and the migration of an environment written in the per-field layout of increments 5–12.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyEntityEvents,
  compileAggregationPlan,
  encodeEventRecord,
  eventRecordLayout,
  groupField,
  mapEventDedup,
  readAggregations,
  type AggregationFields,
  type AggregationSpec,
  type FeatureValue,
  type OnlineEvents,
} from '@tessera/core';
import { LmdbOnlineStore } from '../src/index.js';
import {
  aggregationStateDeadline,
  aggregationStateRef,
  decodeAggregationState,
  encodeAggregationState,
} from '../src/lmdb-aggregation-state.js';
import { DedupEntry } from '../src/lmdb-dedup-entry.js';
import { DEADLINE_STEP_MILLIS } from '../src/lmdb-event-fold.js';
import { packRow } from './online-store-suite.js';

const directories: string[] = [];
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});
function freshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'tessera-lmdb-state-'));
  directories.push(directory);
  return directory;
}

const hex = (bytes: Uint8Array | null | undefined): string | null =>
  bytes === null || bytes === undefined
    ? null
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const fp = (b: number): Uint8Array => new Uint8Array(16).fill(b);

describe('state entry and dedup value (golden bytes)', () => {
  it('encodes a state entry as format, part count, then name length, name, u32 length, bytes per part', () => {
    const bytes = encodeAggregationState(
      [
        ['t5', Uint8Array.of(1, 2, 3)],
        ['pend', Uint8Array.of()],
        ['t1o.a4', Uint8Array.of(0xff)],
      ],
      1_800_000_000_000,
    );
    expect(bytes.toString('hex')).toBe(
      '0103' +
        '000000c585317a42' + // f64 LE 1,800,000,000,000: the deadline
        '02' +
        '7435' +
        '03000000' +
        '010203' +
        '04' +
        '70656e64' +
        '00000000' +
        '06' +
        '74316f2e6134' +
        '01000000' +
        'ff',
    );
    const parts = decodeAggregationState(bytes, 'e');
    expect([...parts].map(([name, part]) => [name, hex(part)])).toEqual([
      ['t5', '010203'],
      ['pend', ''],
      ['t1o.a4', 'ff'],
    ]);
    // Parts are plain Uint8Array views (core's fold copies fields with slice(), a view on a Buffer).
    expect(Buffer.isBuffer(parts.get('t5'))).toBe(false);
    expect(() => decodeAggregationState(bytes.subarray(0, bytes.length - 1), 'k')).toThrow(/"k": truncated/);
    expect(() => decodeAggregationState(Buffer.concat([bytes, Buffer.of(0)]), 'k')).toThrow(
      /1 bytes after the last part/,
    );
    expect(aggregationStateDeadline(bytes)).toBe(1_800_000_000_000);
    expect(() => decodeAggregationState(Buffer.of(2, 0, 0, 0, 0, 0, 0, 0, 0, 0), 'k')).toThrow(/unknown format/);
  });

  it('encodes a dedup value as format, u32 count, then (fp, f64 ts) sorted by fp; drops entries below the bound when rewritten', () => {
    const first = new DedupEntry(undefined, 'd');
    first.add(fp(0x20), 2000);
    first.add(fp(0x10), 1000);
    const bytes = first.encode(1_800_000_000_000) as Buffer;
    const entry = (b: number, ts: number) =>
      Buffer.from(fp(b)).toString('hex') + Buffer.from(new Float64Array([ts]).buffer).toString('hex');
    expect(bytes.toString('hex')).toBe('01' + '000000c585317a42' + '02000000' + entry(0x10, 1000) + entry(0x20, 2000));
    const second = new DedupEntry(bytes, 'd');
    expect(second.storedDeadline).toBe(1_800_000_000_000);
    second.forgetOlderThan(1500);
    expect(second.has(fp(0x10))).toBe(false); // below the bound: no duplicate
    expect(second.has(fp(0x20))).toBe(true);
    expect(second.has(fp(0x30))).toBe(false);
    expect(second.changed).toBe(false); // nothing added: the stored value stays as it is
    second.add(fp(0x30), 3000);
    second.add(fp(0x10), 1600); // replaces the forgotten copy
    expect(second.has(fp(0x10))).toBe(true);
    expect((second.encode(0) as Buffer).toString('hex')).toBe(
      '01' + '0000000000000000' + '03000000' + entry(0x10, 1600) + entry(0x20, 2000) + entry(0x30, 3000),
    );
    const gone = new DedupEntry(bytes, 'd');
    gone.forgetOlderThan(5000);
    gone.add(fp(0x05), 10);
    expect(gone.encode(0)).toBeNull();
    expect(() => new DedupEntry(bytes.subarray(0, 20), 'x')).toThrow(/"x": 20 bytes for 2 entries/);
  });

  it('maps requested field names onto the state entry and its part; anything else stays a field of its own', () => {
    expect(aggregationStateRef('7.1.g1.t5')).toEqual({ state: '7.1.g1.state', part: 't5' });
    expect(aggregationStateRef('7.1.g2.t1o.a4')).toEqual({ state: '7.1.g2.state', part: 't1o.a4' });
    expect(aggregationStateRef('7.1.g1.life')).toEqual({ state: '7.1.g1.state', part: 'life' });
    expect(aggregationStateRef('7.1.g1.life.a3')).toEqual({ state: '7.1.g1.state', part: 'life.a3' });
    expect(aggregationStateRef('7.1.g1.n12')).toEqual({ state: '7.1.g1.state', part: 'n12' });
    expect(aggregationStateRef('7.1.pend')).toEqual({ state: '7.1.g1.state', part: 'pend' });
    expect(aggregationStateRef('7.1.g3.pend')).toEqual({ state: '7.1.g3.state', part: 'pend' });
    expect(aggregationStateRef('7.1')).toBeNull();
    expect(aggregationStateRef('7.1.g2.ok')).toBeNull();
    expect(aggregationStateRef('7.1.g2.state')).toBeNull();
    // Group fields (core group-field.ts): a value's own dots are escaped, so they end no suffix.
    const tricky = groupField('7.1', 0, 'a.g1.pend');
    expect(aggregationStateRef(tricky)).toBeNull();
    expect(aggregationStateRef(`${tricky}.pend`)).toEqual({ state: `${tricky}.g1.state`, part: 'pend' });
    expect(aggregationStateRef(`${tricky}.g2.t5`)).toEqual({ state: `${tricky}.g2.state`, part: 't5' });
    const slash = groupField('7.1', 0, 'a\\'); // ends with an escaped backslash: the next dot is real
    expect(aggregationStateRef(`${slash}.g1.t5`)).toEqual({ state: `${slash}.g1.state`, part: 't5' });
  });
});

const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = Date.now();
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
const record = (ts: number, id: number, amount: bigint, name: string): Uint8Array =>
  encodeEventRecord(layout, ts, fp(id), [amount, name] as FeatureValue[]);
const FIELD = '7.1';
const NAMES = ['t5', 'life', 't5.a2', 'n1'];
const events = (acceptedAtMillis: number, records: Uint8Array[]): OnlineEvents => ({
  plan,
  generation: 1,
  acceptedAtMillis,
  latenessMillis: HOUR,
  retentionMillis: 3 * HOUR,
  entities: records.map(() => 0),
  records,
});

async function readFields(
  store: LmdbOnlineStore,
  key: string,
): Promise<{ fields: AggregationFields; pending: string | null }> {
  const [row = []] = await store.read([{ key, fields: [...NAMES.map((n) => `${FIELD}.g1.${n}`), `${FIELD}.pend`] }]);
  const fields: AggregationFields = new Map();
  NAMES.forEach((n, i) => {
    const bytes = row[i];
    if (bytes !== null && bytes !== undefined) fields.set(n, new Uint8Array(bytes));
  });
  return { fields, pending: hex(row[NAMES.length]) };
}

describe('migration from the per-field layout (increments 5–12)', () => {
  it('reads old entries until the entity is written, then replaces them (fields, pending list, dedup set, deadlines) by the state entry and dedup value', async () => {
    const path = freshDirectory();
    // The model: core's fold over maps, as the old store kept it field by field.
    const modelFields: AggregationFields = new Map();
    const modelDedup = new Map<string, number>();
    let modelPending: Uint8Array | undefined;
    const step = (at: number, records: Uint8Array[]) => {
      const r = applyEntityEvents({
        plan,
        generation: 1,
        acceptedAtMillis: at,
        latenessMillis: HOUR,
        fields: modelFields,
        pending: modelPending,
        dedup: mapEventDedup(modelDedup),
        records,
      });
      if (r.pendingChanged) modelPending = r.pending ?? undefined;
      return r;
    };
    step(NOW, [record(NOW - 10, 1, 5n, 'a'), record(NOW - 5, 2, 7n, 'b'), record(NOW + 20_000, 3, 1n, 'c')]);
    expect(modelPending).toBeDefined();

    // An environment as the old store left it: per-field entries, per-fp dedup entries, deadlines.
    {
      const root = open({ path });
      const rows = root.openDB<Buffer, string>({ name: 'rows', encoding: 'binary' });
      const deadlines = root.openDB<number, string>({ name: 'deadlines', encoding: 'ordered-binary' });
      const byDeadline = root.openDB<true, [number, string]>({ name: 'by-deadline', encoding: 'ordered-binary' });
      const dedup = root.openDB<number, string>({ name: 'dedup', encoding: 'ordered-binary' });
      root.transactionSync(() => {
        const put = (entry: string, bytes: Uint8Array, deadline: number) => {
          rows.putSync(entry, Buffer.from(bytes));
          deadlines.putSync(entry, deadline);
          byDeadline.putSync([deadline, entry], true);
        };
        rows.putSync(`{c:1}\u0000${FIELD}`, packRow(NOW, 'row'));
        for (const [name, bytes] of modelFields) put(`{c:1}\u0000${FIELD}.g1.${name}`, bytes, NOW + 3 * HOUR);
        put(`{c:1}\u0000${FIELD}.pend`, modelPending as Uint8Array, NOW + 4 * HOUR); // the longest deadline
        const base = `{c:1}\u0000${FIELD}\u00001\u0000`;
        for (const [fpHex, ts] of modelDedup) dedup.putSync(base + fpHex, ts);
        deadlines.putSync(`${base}\u0000dedup`, NOW + 2 * HOUR);
        byDeadline.putSync([NOW + 2 * HOUR, `${base}\u0000dedup`], true);
      });
      await root.close();
    }

    const store = new LmdbOnlineStore({ path, sweepIntervalMillis: 0 });
    // Before any write: the old entries are read as they are.
    const before = await readFields(store, '{c:1}');
    expect(before.pending).toBe(hex(modelPending));
    expect(readAggregations(plan, before.fields, NOW)).toEqual(readAggregations(plan, modelFields, NOW));

    // A write: a duplicate of an old event (the old set answers it), a new one, the pending one due.
    const at = NOW + 30_000;
    const written = await store.write({
      field: FIELD,
      ttlMillis: 0,
      keys: ['{c:1}'],
      rows: [packRow(at, 'row2')],
      events: events(at, [record(NOW - 10, 1, 5n, 'a'), record(NOW + 25_000, 4, 2n, 'd')]),
    });
    const model = step(at, [record(NOW - 10, 1, 5n, 'a'), record(NOW + 25_000, 4, 2n, 'd')]);
    expect(model.duplicates).toBe(1);
    expect(written.duplicateEvents).toBe(1);
    const after = await readFields(store, '{c:1}');
    expect(after.pending).toBe(hex(modelPending));
    expect([...after.fields.keys()].sort()).toEqual([...modelFields.keys()].sort());
    for (const [name, bytes] of modelFields) expect([name, hex(after.fields.get(name))]).toEqual([name, hex(bytes)]);
    // A replay of the migrated events is answered from the dedup value.
    const replay = await store.write({
      field: FIELD,
      ttlMillis: 0,
      keys: ['{c:1}'],
      rows: [packRow(at, 'row2')],
      events: events(at + 1, [record(NOW - 5, 2, 7n, 'b'), record(NOW + 20_000, 3, 1n, 'c')]),
    });
    expect(replay.duplicateEvents).toBe(2);
    // The old layout's entries are gone; the state entry keeps the longest old deadline.
    expect(store.sweep(NOW + 4 * HOUR - 1)).toBe(1); // the dedup value (L + 60 s after the write)
    await store.close();
    {
      const root = open({ path });
      const rows = root.openDB<Buffer, string>({ name: 'rows', encoding: 'binary' });
      const deadlines = root.openDB<number, string>({ name: 'deadlines', encoding: 'ordered-binary' });
      const dedup = root.openDB<number, string>({ name: 'dedup', encoding: 'ordered-binary' });
      expect([...rows.getKeys()].filter((k) => k.startsWith('{c:1}'))).toEqual([
        `{c:1}\u0000${FIELD}`,
        `{c:1}\u0000${FIELD}.g1.state`,
      ]);
      expect([...dedup.getKeys()]).toEqual([]);
      expect([...deadlines.getRange()].map(({ key, value }) => [key, value])).toEqual([
        [`{c:1}\u0000${FIELD}.g1.state`, Math.ceil((NOW + 4 * HOUR) / DEADLINE_STEP_MILLIS) * DEADLINE_STEP_MILLIS],
      ]);
      // The state entry records the deadline it has (a write reads it there, not in `deadlines`).
      const state = rows.getBinary(`{c:1}\u0000${FIELD}.g1.state`) as Buffer;
      expect(aggregationStateDeadline(state)).toBe(deadlines.get(`{c:1}\u0000${FIELD}.g1.state`));
      await root.close();
    }
  });

  it('marks a new environment as state-entry only (no fallback reads), and keeps an old one marked as it was', async () => {
    const path = freshDirectory();
    const store = new LmdbOnlineStore({ path, sweepIntervalMillis: 0 });
    await store.close();
    {
      const root = open({ path });
      const rows = root.openDB<Buffer, string>({ name: 'rows', encoding: 'binary' });
      // A per-field entry that a fallback read would find (no store of this layout writes one).
      rows.putSync(`{c:9}\u0000${FIELD}.g1.t5`, Buffer.of(1, 2, 3));
      await root.close();
    }
    const reopened = new LmdbOnlineStore({ path, sweepIntervalMillis: 0 });
    const [row = []] = await reopened.read([{ key: '{c:9}', fields: [`${FIELD}.g1.t5`] }]);
    expect(row[0]).toBeNull();
    await reopened.close();

    const old = freshDirectory();
    {
      const root = open({ path: old });
      root
        .openDB<Buffer, string>({ name: 'rows', encoding: 'binary' })
        .putSync(`{c:9}\u0000${FIELD}.g1.t5`, Buffer.of(1, 2, 3));
      await root.close();
    }
    const legacy = new LmdbOnlineStore({ path: old, sweepIntervalMillis: 0 });
    const [found = []] = await legacy.read([{ key: '{c:9}', fields: [`${FIELD}.g1.t5`] }]);
    expect(hex(found[0])).toBe('010203');
    await legacy.close();
  });
});
