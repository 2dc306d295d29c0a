/**
 * The behaviour every ClickHouse offline store must have, whichever executor runs it: run against
 * chDB always and against a real ClickHouse server when `CLICKHOUSE_URL` is set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTesseraError, type FeatureValue, type OfflineBatch, type RegisteredView } from '@tessera/core';
import type { ClickHouseOfflineStore } from '../src/index.js';
import { MIN_DATETIME64_MILLIS, qualifiedName, tableName } from '../src/index.js';
import { EVERY_TYPE, feature, registeredView } from './support/views.js';
import { readBack } from './support/read-back.js';

export interface OfflineStoreSubject {
  /** Opens a store on a database of its own (the suite drops nothing: databases are per run). */
  open(database: string): Promise<ClickHouseOfflineStore>;
}

/** A database name no other test file or run uses. */
export function freshDatabaseName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
}

/** A comparable form of a value: distinguishes -0 from 0, compares NaN equal, bytes by content. */
export function canonical(value: FeatureValue | bigint | string): unknown {
  if (value === null) return null;
  if (typeof value === 'number') return Object.is(value, -0) ? 'n:-0' : `n:${String(value)}`;
  if (typeof value === 'bigint') return `i:${value}`;
  if (value instanceof Float32Array) return ['f32', ...Array.from(value, (v) => canonical(v))];
  if (value instanceof Float64Array) return ['f64', ...Array.from(value, (v) => canonical(v))];
  if (value instanceof BigInt64Array) return ['i64', ...Array.from(value, (v) => `i:${v}`)];
  if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('hex')}`;
  return value;
}

function columnsOfRows(rows: readonly (readonly FeatureValue[])[], featureCount: number): FeatureValue[][] {
  return Array.from({ length: featureCount }, (_, f) => rows.map((row) => row[f] ?? null));
}

/** A batch from row-major test data. */
export function batchOf(
  rows: readonly { keys: (bigint | string)[]; ts: number; values: FeatureValue[] }[],
  featureCount: number,
): OfflineBatch {
  return {
    joinKeyValues: rows.map((row) => row.keys),
    eventTsMillis: Float64Array.from(rows.map((row) => row.ts)),
    featureValues: columnsOfRows(
      rows.map((row) => row.values),
      featureCount,
    ),
  };
}

const INVALID_UTF8_AND_CONTROLS = Uint8Array.from([0, 9, 10, 13, 92, 255, 0xc3, 0x28, 39, 0x5c, 0x4e, 8, 12, 0x7f]);
const NASTY_STRINGS = [
  'a,b',
  "it's",
  'tab\there',
  'nl\nx',
  '\\',
  '[',
  ']',
  '',
  '🌍',
  '\\N',
  'NULL',
  "'",
  '"q"',
  '\r\0\b\f',
];

/** Rows covering the edges of every type (EVERY_TYPE order), keyed (user_id Int64, region String). */
export const EDGE_ROWS: { keys: (bigint | string)[]; ts: number; values: FeatureValue[] }[] = [
  {
    keys: [1n, 'eu'],
    ts: 1_700_000_000_123,
    values: [
      9_223_372_036_854_775_807n,
      Number.NaN,
      'héllo 🌍 \t\n\\ \'" \\N',
      true,
      1_700_000_000_123,
      INVALID_UTF8_AND_CONTROLS,
      Float32Array.from([
        1.5,
        -0,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        3.4028234663852886e38,
        1.401298464324817e-45,
        0.1,
      ]),
      Float64Array.from([Number.MIN_VALUE, -Number.MAX_VALUE, -0, 0.1, Number.NaN, Number.NEGATIVE_INFINITY]),
      BigInt64Array.from([-9_223_372_036_854_775_808n, 9_223_372_036_854_775_807n, 0n]),
      NASTY_STRINGS,
    ],
  },
  {
    keys: [-9_223_372_036_854_775_808n, 'a\tb\nc\\d'],
    ts: -1,
    values: [
      -9_223_372_036_854_775_808n,
      -0,
      '',
      false,
      -1,
      new Uint8Array(0),
      new Float32Array(0),
      new Float64Array(0),
      new BigInt64Array(0),
      [],
    ],
  },
  { keys: [2n, ''], ts: 0, values: EVERY_TYPE.map(() => null) },
  {
    keys: [3n, '🌍'],
    ts: 10_413_791_999_999, // the last millisecond DateTime64 stores
    values: [
      0n,
      Number.POSITIVE_INFINITY,
      '\\N',
      null,
      -2_208_988_800_000, // the first
      Uint8Array.from([0x4e]),
      Float32Array.from([2]),
      null,
      null,
      ['\\N', 'NULL', ''],
    ],
  },
  {
    keys: [4n, "o'brien"],
    ts: -2_208_988_800_000,
    values: [
      1n,
      0.30000000000000004,
      '\r\0\b\f\u0001\u007f\u2028',
      true,
      0,
      Uint8Array.from({ length: 256 }, (_, i) => i),
      null,
      Float64Array.from([5e-324, 1e308, -1e-300]),
      BigInt64Array.from([1n]),
      [''],
    ],
  },
];

export const KEYS = [
  { name: 'user_id', type: 'int64' as const },
  { name: 'region', type: 'string' as const },
];

function expectRowsEqual(
  actual: { keys: unknown[]; ts: number; values: FeatureValue[] }[],
  expected: typeof EDGE_ROWS,
): void {
  const canon = (rows: { keys: unknown[]; ts: number; values: FeatureValue[] }[]): unknown[] =>
    rows.map((row) => ({
      keys: row.keys.map((k) => canonical(k as bigint | string)),
      ts: row.ts,
      values: row.values.map(canonical),
    }));
  expect(canon(actual)).toEqual(canon(expected));
}

function sortRows<T extends { keys: (bigint | string)[]; ts: number }>(rows: T[]): T[] {
  const cmp = (a: bigint | string | undefined, b: bigint | string | undefined): number =>
    a === b ? 0 : a === undefined || (b !== undefined && a < b) ? -1 : 1;
  return [...rows].sort((a, b) => {
    for (let i = 0; i < a.keys.length; i++) {
      // ClickHouse orders String keys by bytes: compare UTF-8 encodings.
      const ka = a.keys[i];
      const kb = b.keys[i];
      const c =
        typeof ka === 'string' && typeof kb === 'string'
          ? Buffer.compare(Buffer.from(ka), Buffer.from(kb))
          : cmp(ka, kb);
      if (c !== 0) return c;
    }
    return a.ts - b.ts;
  });
}

export function describeOfflineStore(name: string, subject: OfflineStoreSubject): void {
  describe(`${name}: offline store behaviour`, () => {
    let store: ClickHouseOfflineStore;
    const database = freshDatabaseName('offline_suite');

    beforeAll(async () => {
      store = await subject.open(database);
    });
    afterAll(async () => {
      await store.executor.command(`DROP DATABASE IF EXISTS \`${database}\``);
      await store.close();
    });

    it('stores every value type exactly: NaN, ±0, extremes, empty and null lists, unicode, raw bytes, ms timestamps', async () => {
      const view = registeredView('every_type', KEYS, EVERY_TYPE);
      await store.ensureTables([view]);
      await store.insert(view, batchOf(EDGE_ROWS, EVERY_TYPE.length));
      const rows = await readBack(store.executor, database, view);
      expectRowsEqual(
        rows.map((row) => ({ keys: row.keys, ts: row.eventTsMillis, values: row.features })),
        sortRows(EDGE_ROWS),
      );
    });

    it('reads back the latest row of each entity in a range, every type exact, for materialization', async () => {
      const view = registeredView('latest_rows', KEYS, EVERY_TYPE);
      await store.ensureTables([view]);
      await store.insert(view, batchOf(EDGE_ROWS, EVERY_TYPE.length));
      // An older event of every key, and one after the range end.
      const older = EDGE_ROWS.filter((row) => row.ts - 1_000 >= MIN_DATETIME64_MILLIS).map((row) => ({
        ...row,
        ts: row.ts - 1_000,
        values: row.values.map(() => null),
      }));
      const end = Math.max(...EDGE_ROWS.map((row) => row.ts)) + 1;
      await store.insert(view, batchOf(older, EVERY_TYPE.length));
      const read = async (range: {
        part?: { index: number; count: number };
        batchRows: number;
        startMillis?: number;
        endMillis?: number;
      }) => {
        const rows: { keys: (bigint | string)[]; ts: number; values: FeatureValue[] }[] = [];
        for await (const batch of store.latestRows(view, {
          startMillis: MIN_DATETIME64_MILLIS,
          endMillis: end,
          ...range,
        })) {
          expect(batch.length).toBeLessThanOrEqual(range.batchRows);
          for (const row of batch) rows.push({ keys: row.keys, ts: row.eventTsMillis, values: row.features });
        }
        return rows;
      };
      const expected = sortRows(EDGE_ROWS);
      expectRowsEqual(sortRows(await read({ batchRows: 2 })), expected);
      // Split by key hash into parts: together exactly the same rows, each in one part.
      const parts = await Promise.all([0, 1, 2].map((index) => read({ part: { index, count: 3 }, batchRows: 100 })));
      expectRowsEqual(sortRows(parts.flat()), expected);
      // A range that ends mid-way: per key, the latest of all inserted rows before the end (brute force).
      const sortedTs = EDGE_ROWS.map((row) => row.ts).sort((a, b) => a - b);
      const cut = sortedTs[Math.floor(sortedTs.length / 2)] as number;
      const latestBefore = new Map<string, (typeof EDGE_ROWS)[number]>();
      for (const row of [...EDGE_ROWS, ...older]) {
        if (row.ts >= cut) continue;
        const id = row.keys.map(String).join('|');
        const seen = latestBefore.get(id);
        if (seen === undefined || seen.ts < row.ts) latestBefore.set(id, row);
      }
      expect(latestBefore.size).toBeGreaterThan(0);
      expectRowsEqual(sortRows(await read({ batchRows: 100, endMillis: cut })), sortRows([...latestBefore.values()]));
      await expect(
        (async () => {
          for await (const batch of store.latestRows(view, { startMillis: 5, endMillis: 5, batchRows: 1 })) void batch;
        })(),
      ).rejects.toThrow(/must be before its end/);
    });

    it('gives every row of one insert the same created_ts, later for a later insert', async () => {
      const view = registeredView('created_ts', KEYS, [feature('x', 'double')]);
      await store.ensureTables([view]);
      const before = BigInt(Date.now()) * 1000n;
      await store.insert(
        view,
        batchOf(
          [
            { keys: [1n, 'a'], ts: 1, values: [1] },
            { keys: [2n, 'a'], ts: 1, values: [2] },
          ],
          1,
        ),
      );
      await store.insert(view, batchOf([{ keys: [1n, 'a'], ts: 1, values: [3] }], 1));
      const rows = await readBack(store.executor, database, view);
      const [first, second, third] = rows.map((row) => row.createdTsMicros);
      expect(first).toBeGreaterThanOrEqual(before - 1000n);
      expect(second).toBeGreaterThan(first ?? 0n); // rows of key 1: first insert, then second
      expect(third).toBe(first); // key 2, first insert
    });

    it('keeps the latest created_ts among rows with the same key and event time', async () => {
      const view = registeredView('replacing', KEYS, [feature('x', 'double')]);
      await store.ensureTables([view]);
      await store.insert(view, batchOf([{ keys: [1n, 'a'], ts: 1000, values: [1] }], 1), { createdTsMicros: 2_000n });
      await store.insert(view, batchOf([{ keys: [1n, 'a'], ts: 1000, values: [2] }], 1), { createdTsMicros: 1_000n });
      const final = await readBack(store.executor, database, view, { final: true });
      expect(final.map((row) => row.features[0])).toEqual([1]);
    });

    it('adds nothing when an insert is repeated with the same deduplication token', async () => {
      const view = registeredView('dedup', KEYS, [feature('x', 'double')]);
      await store.ensureTables([view]);
      // Rows in two months: the insert is split into one part per partition, each deduplicated.
      const batch = batchOf(
        [
          { keys: [1n, 'a'], ts: Date.UTC(2024, 0, 15), values: [1] },
          { keys: [2n, 'a'], ts: Date.UTC(2024, 1, 15), values: [2] },
        ],
        1,
      );
      await store.insert(view, batch, { dedupToken: 'job-1' });
      await store.insert(view, batch, { dedupToken: 'job-1' });
      expect(await readBack(store.executor, database, view)).toHaveLength(2);
      // The token, not the content, decides: a retry carries the same token.
      await store.insert(view, batchOf([{ keys: [3n, 'a'], ts: Date.UTC(2024, 0, 15), values: [3] }], 1), {
        dedupToken: 'job-1',
      });
      expect(await readBack(store.executor, database, view)).toHaveLength(2);
      await store.insert(view, batch, { dedupToken: 'job-2' });
      expect(await readBack(store.executor, database, view)).toHaveLength(4);
      // Without a token the same rows are written again (a new created_ts makes them new content).
      await store.insert(view, batch);
      await store.insert(view, batch);
      expect(await readBack(store.executor, database, view)).toHaveLength(8);
    });

    it('adds the columns of features appended to a view version, reading older rows as null', async () => {
      const v1 = registeredView('grows', KEYS, [feature('a', 'double')]);
      await store.ensureTables([v1]);
      await store.insert(v1, batchOf([{ keys: [1n, 'x'], ts: 1, values: [1.5] }], 1));
      const grown = registeredView('grows', KEYS, [
        feature('a', 'double'),
        feature('b', 'string'),
        feature('c', 'float_list'),
        feature('d', 'int64_list'),
      ]);
      await store.ensureTables([grown]);
      await store.ensureTables([grown]); // idempotent
      await store.insert(
        grown,
        batchOf([{ keys: [2n, 'x'], ts: 2, values: [2.5, 'new', Float32Array.from([1]), new BigInt64Array(0)] }], 4),
      );
      const rows = await readBack(store.executor, database, grown);
      expect(rows.map((row) => row.features.map(canonical))).toEqual([
        ['n:1.5', null, null, null],
        ['n:2.5', 'new', ['f32', 'n:1'], ['i64']],
      ]);
    });

    it('refuses a feature whose type changed within a version (that needs a new version)', async () => {
      await store.ensureTables([registeredView('retyped', KEYS, [feature('a', 'double')])]);
      const error = await store
        .ensureTables([registeredView('retyped', KEYS, [feature('a', 'string')])])
        .catch((e: unknown) => e);
      expect(isTesseraError(error) && error.code).toBe('FAILED_PRECONDITION');
      expect(String(error)).toContain('column a');
    });

    it('keeps older versions readable beside a new version', async () => {
      const v1 = registeredView('versions', KEYS, [feature('a', 'double')], 1);
      const v2 = registeredView('versions', KEYS, [feature('a', 'string')], 2);
      await store.ensureTables([v1, v2]);
      await store.insert(v1, batchOf([{ keys: [1n, 'x'], ts: 1, values: [1] }], 1));
      await store.insert(v2, batchOf([{ keys: [1n, 'x'], ts: 1, values: ['one'] }], 1));
      expect((await readBack(store.executor, database, v1))[0]?.features).toEqual([1]);
      expect((await readBack(store.executor, database, v2))[0]?.features).toEqual(['one']);
    });

    it('rejects identifiers outside the registry rule before any SQL is sent', async () => {
      const bad: RegisteredView[] = [
        registeredView('x`; DROP DATABASE system; --', KEYS, []),
        registeredView('ok', [{ name: 'Bad Key', type: 'int64' }], []),
        registeredView('ok', KEYS, [feature('a.b', 'double')]),
      ];
      for (const view of bad) {
        const error = await store.ensureTables([view]).catch((e: unknown) => e);
        expect(isTesseraError(error) && error.code).toBe('INTERNAL');
      }
    });

    it('rejects an event time DateTime64 cannot hold, naming the row, instead of clamping it', async () => {
      const view = registeredView('ts_range', KEYS, [feature('t', 'timestamp')]);
      await store.ensureTables([view]);
      const error = await store
        .insert(
          view,
          batchOf(
            [
              { keys: [1n, 'x'], ts: 1, values: [null] },
              { keys: [1n, 'x'], ts: 1, values: [Date.UTC(2400, 0, 1)] },
            ],
            1,
          ),
        )
        .catch((e: unknown) => e);
      expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
      expect(String(error)).toMatch(/row 1, column t/);
      expect(await readBack(store.executor, database, view)).toHaveLength(0);
    });

    it('treats an empty batch as nothing to do', async () => {
      const view = registeredView('empty', KEYS, [feature('x', 'double')]);
      await store.ensureTables([view]);
      await store.insert(view, batchOf([], 1));
      expect(await readBack(store.executor, database, view)).toHaveLength(0);
    });

    it('binds query parameters without letting them into the SQL text', async () => {
      const view = registeredView('params', KEYS, [feature('x', 'string')]);
      await store.ensureTables([view]);
      const hostile = "x' OR 1=1 --";
      await store.insert(
        view,
        batchOf(
          [
            { keys: [1n, hostile], ts: 1, values: ['hit'] },
            { keys: [2n, 'y'], ts: 1, values: ['miss'] },
          ],
          1,
        ),
      );
      const rows = await store.executor.queryJson<{ user_id: string; x: string }>(
        `SELECT user_id, x FROM ${qualifiedName(database, tableName(view))} WHERE region = {region:String} AND user_id IN {ids:Array(Int64)}`,
        { region: hostile, ids: [1n, 9_223_372_036_854_775_807n] },
      );
      expect(rows).toEqual([{ user_id: '1', x: 'hit' }]);
    });

    it('streams a large result in chunks that add up to the whole', async () => {
      let bytes = 0;
      let chunks = 0;
      for await (const chunk of store.executor.queryStream(
        'SELECT number FROM system.numbers LIMIT {n:UInt64}',
        { n: 2_000_000 },
        { format: 'RowBinary' },
      )) {
        bytes += chunk.byteLength;
        chunks++;
      }
      expect(bytes).toBe(16_000_000);
      expect(chunks).toBeGreaterThan(1);
    });

    it('names the ClickHouse exception of a failing query with INVALID_ARGUMENT', async () => {
      const error = await store.executor
        .queryJson(`SELECT * FROM ${qualifiedName(database, 'no_such_table')}`)
        .catch((e: unknown) => e);
      expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
      expect(String(error)).toContain('UNKNOWN_TABLE');
    });
  });
}
