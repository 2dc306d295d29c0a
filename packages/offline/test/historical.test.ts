/**
 * GetHistorical on chDB: NULL (never a type default) where nothing is known, Arrow output equal
 * to the columns output, entity SELECTs, bad input, cancellation and clean-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isTesseraError,
  type FeatureValue,
  type HistoricalChunk,
  type HistoricalRequest,
  type TypedColumn,
} from '@tessera/core';
import { qualifiedName, tableName } from '../src/index.js';
import { timePruning } from '../src/historical/query.js';
import { MERGE_STAGE_ABOVE_PARTS } from '../src/historical/key-ranges.js';
import { runHistorical, type HistoricalOptions } from '../src/historical/run.js';
import { comparable } from './support/oracle.js';
import {
  arrowToColumns,
  collect,
  concatColumns,
  createTables,
  insertRows,
  openEngine,
  resolvedAll,
  view,
  type Engine,
} from './support/oracle-harness.js';
import { EVERY_TYPE, feature } from './support/views.js';

const T0 = Date.UTC(2025, 0, 1);
const EVERY = EVERY_TYPE;
const users = view('h_users', [{ name: 'user_id', type: 'int64' }], EVERY);
const VALUES: FeatureValue[] = [
  -9_223_372_036_854_775_808n,
  -0,
  "tab\t'nl\n\\ é🌍",
  false,
  -1,
  Uint8Array.from([0, 255, 9, 10, 92]),
  Float32Array.from([1.5, Number.NaN, -0]),
  Float64Array.from([0.1, Number.NEGATIVE_INFINITY]),
  BigInt64Array.from([9_223_372_036_854_775_807n]),
  ['a', "b'c", ''],
];
const NULLS: FeatureValue[] = EVERY.map(() => null);
const DAY = 86_400_000;
/** Rows in January, February and March 2025 (three monthly partitions); a 10-day TTL. */
const months = view('h_months', [{ name: 'user_id', type: 'int64' }], [feature('amount', 'double')], 10 * 86_400);
const undated = view('h_undated', [{ name: 'user_id', type: 'int64' }], [feature('amount', 'double')]);

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

function inline(
  userIds: readonly bigint[],
  ts: readonly number[],
  passthrough: readonly TypedColumn[] = [],
): HistoricalRequest['entities'] {
  return { kind: 'rows', keys: new Map([['user_id', userIds]]), eventTsMillis: ts, passthrough };
}

function request(entities: HistoricalRequest['entities'], extra: Partial<HistoricalRequest> = {}): HistoricalRequest {
  return { entities, features: resolvedAll([users]), chunkRows: 2, format: 'columns', ...extra };
}

describe('GetHistorical', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await openEngine('hist');
    await createTables(engine, [users]);
    await insertRows(engine, users, [
      { keys: [1n], eventTsMillis: T0 + 1000, createdTsMicros: 10n, values: VALUES },
      { keys: [1n], eventTsMillis: T0 + 2000, createdTsMicros: 10n, values: NULLS },
      {
        keys: [2n],
        eventTsMillis: T0,
        createdTsMicros: 10n,
        values: [
          0n,
          0,
          '',
          false,
          0,
          new Uint8Array(),
          new Float32Array(),
          new Float64Array(),
          new BigInt64Array(),
          [],
        ],
      },
    ]);
    await createTables(engine, [months, undated]);
    for (const v of [months, undated]) {
      await insertRows(
        engine,
        v,
        [0, 31, 59].map((day, i) => ({
          keys: [1n],
          eventTsMillis: T0 + day * DAY,
          createdTsMicros: 10n,
          values: [i + 1],
        })),
      );
    }
  });
  afterAll(() => engine.close());

  it('bounds each view in time only where the bound skips a monthly partition', async () => {
    const entityTable = qualifiedName(engine.database, 'pruning_entities');
    const pruningAt = async (...days: number[]): Promise<unknown> => {
      await engine.executor.command(`DROP TABLE IF EXISTS ${entityTable}`);
      await engine.executor.command(`CREATE TABLE ${entityTable} (event_ts DateTime64(3, 'UTC')) ENGINE = Memory`);
      await engine.executor.command(
        `INSERT INTO ${entityTable} SELECT fromUnixTimestamp64Milli(arrayJoin({ts:Array(Int64)}), 'UTC')`,
        { ts: days.map((day) => BigInt(T0 + day * DAY)) },
      );
      return timePruning(engine.executor, engine.database, entityTable, resolvedAll([months, undated]), {
        signal: AbortSignal.timeout(30_000),
        settings: () => ({}),
      });
    };
    // Mid-January: February and March are later than every entity row; January is within the TTL.
    expect(await pruningAt(14, 15)).toEqual([
      { upper: true, lower: false },
      { upper: true, lower: false },
    ]);
    // March 20: nothing is later; January and February are older than March 20 − 10 days (TTL view only).
    expect(await pruningAt(78)).toEqual([
      { upper: false, lower: true },
      { upper: false, lower: false },
    ]);
    // And the values are the same whichever bounds are kept.
    const columns = concatColumns(
      await collect(engine, {
        entities: inline([1n, 1n, 1n], [T0 + 5 * DAY, T0 + 40 * DAY, T0 + 78 * DAY]),
        features: resolvedAll([months, undated]),
        chunkRows: 10,
        format: 'columns',
      }),
    );
    expect(columns.slice(2).map((c) => c.values)).toEqual([
      [1, 2, null], // March 1 is 19 days before March 20: past the TTL
      [1, 2, 3],
    ]);
  });

  it('takes the latest created_ts among rows of one key and event time, whatever order they were written in', async () => {
    const corrected = view('h_corrected', [{ name: 'user_id', type: 'int64' }], [feature('amount', 'double')]);
    await createTables(engine, [corrected]);
    // Each insert its own part. User 1: the correction (created later) is written before the
    // original; user 2: after it. A tie-break by write order gets one of them wrong.
    const write = (keys: bigint, eventTsMillis: number, created: bigint, value: number): Promise<void> =>
      insertRows(engine, corrected, [{ keys: [keys], eventTsMillis, createdTsMicros: created, values: [value] }]);
    await write(1n, T0, 20n, 2);
    await write(1n, T0, 10n, 1);
    await write(2n, T0, 10n, 1);
    await write(2n, T0, 20n, 2);
    await write(1n, T0 - 1, 30n, 0);
    // User 3: write times either side of 1970 (the ASOF key holds a signed created_ts).
    await write(3n, T0, 5n, 2);
    await write(3n, T0, -5_000_000n, 1);
    for (const plan of ['hash', 'full_sorting_merge', 'key_ranges'] as const) {
      const columns = concatColumns(
        await collect(
          engine,
          {
            entities: inline([1n, 2n, 1n, 3n], [T0, T0, T0 - 1, T0]),
            features: resolvedAll([corrected]),
            chunkRows: 10,
            format: 'columns',
          },
          { plan },
        ),
      );
      expect(columns[2]?.values, plan).toEqual([2, 2, 0, 2]);
    }
  });

  it('gives NULL, never a type default, where nothing is known (join_use_nulls)', async () => {
    const columns = concatColumns(
      await collect(engine, request(inline([1n, 3n, 2n, 1n], [T0, T0 + 5000, T0, T0 + 1000]))),
    );
    const feature = (row: number): unknown[] => columns.slice(2).map((c) => comparable(c.values[row]));
    expect(feature(0)).toEqual(NULLS); // before the first event
    expect(feature(1)).toEqual(NULLS); // no rows for the entity
    // ts equal to the event: known; the type defaults stored for user 2 read back as such.
    expect(feature(2)).toEqual(
      [0n, 0, '', false, 0, new Uint8Array(), new Float32Array(), new Float64Array(), new BigInt64Array(), []].map(
        comparable,
      ),
    );
    expect(feature(3)).toEqual(VALUES.map(comparable));
  });

  it('streams Arrow IPC that apache-arrow reads back equal to the columns output', async () => {
    const passthrough: TypedColumn[] = [
      { name: 'label_d', type: 'double', values: [1.5, null, Number.NaN, -0] },
      { name: 'label_s', type: 'string', values: ['x\ty', null, '', 'é'] },
      {
        name: 'label_b',
        type: 'bytes',
        values: [Uint8Array.from([0, 9]), null, new Uint8Array(), Uint8Array.from([255])],
      },
      {
        name: 'label_l',
        type: 'float_list',
        values: [Float32Array.from([1]), null, new Float32Array(), Float32Array.from([2, 3])],
      },
      { name: 'label_t', type: 'timestamp', values: [T0, null, -5, 0] },
    ];
    const entities = inline([1n, 1n, 2n, 9n], [T0 + 1500, T0 + 2500, T0 + 1, T0], passthrough);
    const columns = concatColumns(await collect(engine, request(entities)));
    const arrowChunks = await collect(engine, request(entities, { format: 'arrow', chunkRows: 3 }));
    expect(arrowChunks.map((c) => [c.firstRow, c.rowCount])).toEqual([
      [0, 3],
      [3, 1],
    ]);
    const arrow = arrowToColumns(arrowChunks);
    expect(arrow.names).toEqual(columns.map((c) => c.name));
    expect(arrow.names.slice(0, 7)).toEqual([
      'user_id',
      'event_ts',
      'label_d',
      'label_s',
      'label_b',
      'label_l',
      'label_t',
    ]);
    columns.forEach((column, c) => {
      expect(arrow.values[c]?.map(comparable), column.name).toEqual(column.values.map(comparable));
    });
    // Passthrough comes back unchanged.
    passthrough.forEach((column, p) => {
      expect(columns[2 + p]?.values.map(comparable)).toEqual(column.values.map(comparable));
    });
  });

  it('takes entity rows from a SELECT, in its order, passing its other columns through', async () => {
    const sql =
      `SELECT toInt64(number % 3) AS user_id, toDateTime64('2025-01-01 00:00:01.500', 3, 'UTC') AS event_ts, ` +
      `toUInt8(number) AS label, toString(number) AS name FROM numbers(5) ORDER BY number DESC`;
    const columns = concatColumns(await collect(engine, request({ kind: 'sql', sql })));
    expect(columns.slice(0, 4).map((c) => [c.name, c.type])).toEqual([
      ['user_id', 'int64'],
      ['event_ts', 'timestamp'],
      ['label', 'int64'],
      ['name', 'string'],
    ]);
    expect(columns[2]?.values).toEqual([4n, 3n, 2n, 1n, 0n]);
    expect(columns[0]?.values).toEqual([1n, 0n, 2n, 1n, 0n]);
    expect(columns[4]?.values).toEqual([VALUES[0], null, 0n, VALUES[0], null]);
  });

  it('joins by key ranges an entity SELECT whose key is Nullable, as the one-query plan does', async () => {
    // A Parquet file read by ClickHouse gives Nullable columns: the key-range plan sorts by that key.
    const sql =
      `SELECT toNullable(toInt64(number % 4)) AS user_id, toDateTime64('2025-01-01 00:00:01.500', 3, 'UTC') AS event_ts, ` +
      `toUInt8(number) AS label FROM numbers(9)`;
    const byRanges = concatColumns(
      await collect(engine, request({ kind: 'sql', sql }), { plan: 'key_ranges', partRows: 2 }),
    );
    const oneQuery = concatColumns(await collect(engine, request({ kind: 'sql', sql }), { plan: 'hash' }));
    expect(byRanges).toEqual(oneQuery);
    expect(byRanges[2]?.values).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
    expect(byRanges[3]?.values).toEqual([null, VALUES[0], 0n, null, null, VALUES[0], 0n, null, null]);
  });

  it('joins in more parts than MERGE_STAGE_ABOVE_PARTS (the stage merged before it is read) as one query does', async () => {
    const keys = MERGE_STAGE_ABOVE_PARTS + 4;
    // Rows out of key order, every key twice, at two moments either side of user 1's event.
    const sql =
      `SELECT toInt64((number * 7) % ${keys}) AS user_id, ` +
      `toDateTime64('2025-01-01 00:00:01.500', 3, 'UTC') - toIntervalSecond(number % 2) AS event_ts, ` +
      `toUInt32(number) AS label FROM numbers(${2 * keys})`;
    const byRanges = concatColumns(
      await collect(engine, request({ kind: 'sql', sql }), { plan: 'key_ranges', partRows: 1 }),
    );
    const oneQuery = concatColumns(await collect(engine, request({ kind: 'sql', sql }), { plan: 'hash' }));
    expect(byRanges).toEqual(oneQuery);
    expect(byRanges[2]?.values).toEqual(Array.from({ length: 2 * keys }, (_, i) => BigInt(i)));
    expect(byRanges[3]?.values.filter((v) => v !== null).length).toBeGreaterThan(0);
  });

  it('cuts the key-range plan into more parts when the view rows its joins read need them, as one query does', async () => {
    // Few entity rows (one part by partRows) but view rows over partViewRows: parts by view rows.
    const sql =
      `SELECT toInt64(number % 5) AS user_id, toDateTime64('2025-01-01 00:00:01.500', 3, 'UTC') AS event_ts, ` +
      `toUInt32(number) AS label FROM numbers(10)`;
    let stageInserts = 0;
    const counting = new Proxy(engine.executor, {
      get(target, property, receiver): unknown {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        if (property !== 'command') return method.bind(target);
        return (sql: string, ...rest: unknown[]) => {
          if (/^INSERT INTO \S+_s0\W/.test(sql)) stageInserts += 1;
          return method.call(target, sql, ...rest);
        };
      },
    });
    const run = async (options: HistoricalOptions): Promise<ReturnType<typeof concatColumns>> => {
      const chunks: HistoricalChunk[] = [];
      for await (const chunk of runHistorical(counting, engine.database, request({ kind: 'sql', sql }), options)) {
        chunks.push(chunk);
      }
      return concatColumns(chunks);
    };
    const onePart = await run({ plan: 'key_ranges', partRows: 1_000 });
    expect(stageInserts).toBe(1);
    stageInserts = 0;
    const byViewRows = await run({ plan: 'key_ranges', partRows: 1_000, partViewRows: 1 });
    expect(stageInserts).toBeGreaterThan(1);
    expect(byViewRows).toEqual(onePart);
    expect(byViewRows).toEqual(concatColumns(await collect(engine, request({ kind: 'sql', sql }), { plan: 'hash' })));
    const error = await errorOf(
      collect(engine, request({ kind: 'sql', sql }), { plan: 'key_ranges', partViewRows: 0 }),
    );
    expect((error as Error).message).toContain('partViewRows must be a positive integer, got 0');
  });

  it('rejects an entity SELECT lacking a join key or event_ts, naming it', async () => {
    const error = await errorOf(
      collect(engine, request({ kind: 'sql', sql: 'SELECT 1 AS uid, now64(3) AS event_ts' })),
    );
    expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
    expect(String(error)).toMatch(/lacks the column "user_id"/);
    const noTs = await errorOf(collect(engine, request({ kind: 'sql', sql: 'SELECT toInt64(1) AS user_id' })));
    expect(String(noTs)).toMatch(/"event_ts"/);
  });

  it("rejects a failing entity SELECT with ClickHouse's message", async () => {
    const error = await errorOf(
      collect(engine, request({ kind: 'sql', sql: `SELECT * FROM ${engine.database}.no_such_table_here` })),
    );
    expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
    expect(String(error)).toMatch(/entity SELECT failed.*no_such_table_here/s);
    const runtime = await errorOf(
      collect(
        engine,
        request({
          kind: 'sql',
          sql: "SELECT toInt64(number) AS user_id, now64(3) AS event_ts FROM numbers(3) WHERE throwIf(number = 2, 'boom')",
        }),
      ),
    );
    expect(isTesseraError(runtime) && runtime.code).toBe('INVALID_ARGUMENT');
    expect(String(runtime)).toMatch(/boom/);
    const nullKey = await errorOf(
      collect(
        engine,
        request({
          kind: 'sql',
          sql: 'SELECT if(number = 1, NULL, toInt64(number)) AS user_id, now64(3) AS event_ts FROM numbers(3)',
        }),
      ),
    );
    expect(isTesseraError(nullKey) && nullKey.code).toBe('INVALID_ARGUMENT');
    expect(String(nullKey)).toMatch(/entity row 1: join key "user_id" is NULL/);
  });

  it('rejects inline rows with a missing or invalid timestamp or join key, naming row and column', async () => {
    const cases: [HistoricalRequest['entities'], RegExp][] = [
      [inline([1n, 2n], [T0, Number.NaN]), /entity row 1: event_ts/],
      [inline([1n, 2n], [T0, 1.5]), /entity row 1: event_ts/],
      [inline([1n], [T0, T0]), /"user_id" has 1 values but there are 2/],
      [inline([1n, 5 as unknown as bigint], [T0, T0]), /entity row 1: join key "user_id" must be a 64-bit integer/],
      [
        { kind: 'rows', keys: new Map([['uid', [1n]]]), eventTsMillis: [T0], passthrough: [] },
        /lack the join key column "user_id"/,
      ],
      [
        inline([1n], [T0], [{ name: 'lbl', type: 'double', values: ['x'] }]),
        /entity row 0: column "lbl" must hold double/,
      ],
    ];
    for (const [entities, message] of cases) {
      const error = await errorOf(collect(engine, request(entities)));
      expect(isTesseraError(error) && error.code, String(error)).toBe('INVALID_ARGUMENT');
      expect(String(error)).toMatch(message);
    }
  });

  it('rejects a part size that is not a positive integer before touching ClickHouse', async () => {
    for (const partRows of [0, -1, 1.5, Number.NaN]) {
      const error = await errorOf(collect(engine, request(inline([1n], [T0])), { plan: 'key_ranges', partRows }));
      expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
      expect((error as Error).message).toContain(`partRows must be a positive integer, got ${String(partRows)}`);
    }
  });

  it('returns one empty chunk with the columns for no entity rows', async () => {
    const chunks = await collect(engine, request(inline([], [])));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.rowCount).toBe(0);
    expect(chunks[0]?.columns?.map((c) => c.name)).toEqual([
      'user_id',
      'event_ts',
      ...EVERY.map((f) => `h_users__${f.name}`),
    ]);
  });

  it('is cancelled by its AbortSignal and by its deadline, and leaves no table behind', async () => {
    const sql = 'SELECT toInt64(number % 3) AS user_id, now64(3) AS event_ts FROM numbers(3000000)';
    const controller = new AbortController();
    const stream = runHistorical(
      engine.executor,
      engine.database,
      request({ kind: 'sql', sql }, { chunkRows: 1000, signal: controller.signal }),
    );
    let seen = 0;
    const error = await errorOf(
      (async () => {
        for await (const chunk of stream) {
          seen += chunk.rowCount;
          controller.abort();
        }
      })(),
    );
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(3_000_000);
    expect(isTesseraError(error) && error.code).toBe('DEADLINE_EXCEEDED');

    const late = await errorOf(
      collect(engine, request({ kind: 'sql', sql }, { deadlineMillis: Date.now() + 5, chunkRows: 1000 })),
    );
    expect(isTesseraError(late) && late.code).toBe('DEADLINE_EXCEEDED');
    // A deadline that passes while the key-range plan runs its parts (100k parts of one key).
    const manyKeys = 'SELECT toInt64(number) AS user_id, now64(3) AS event_ts FROM numbers(100000)';
    const parted = await errorOf(
      collect(engine, request({ kind: 'sql', sql: manyKeys }, { deadlineMillis: Date.now() + 1500 }), {
        plan: 'key_ranges',
        partRows: 1,
      }),
    );
    expect(isTesseraError(parted) && parted.code).toBe('DEADLINE_EXCEEDED');
    const past = await errorOf(collect(engine, request(inline([1n], [T0]), { deadlineMillis: Date.now() - 1 })));
    expect(isTesseraError(past) && past.code).toBe('DEADLINE_EXCEEDED');

    const left = await engine.executor.queryJson<{ name: string }>(
      `SELECT name FROM system.tables WHERE database = {db:String} AND name LIKE 'tmp_historical_%'`,
      { db: engine.database },
    );
    expect(left).toEqual([]);
    // The view table is still there and readable.
    await engine.executor.command(`SELECT count() FROM ${qualifiedName(engine.database, tableName(users))}`);
  });
});
