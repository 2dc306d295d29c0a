/**
 * A training set of 1.2M rows streamed in chunks: correctness by counts and checksums computed
 * in closed form; RSS is logged, nothing is asserted on time or memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qualifiedName, tableName } from '../src/index.js';
import { runHistorical } from '../src/historical/run.js';
import { createTables, feature, openEngine, resolvedAll, view, type Engine } from './support/oracle-harness.js';

const KEYS = 1000;
const EVENTS = 100; // per key, one per second from 2025-01-01
const ROWS = 1_200_000;
const TTL = 20;
const metrics = view(
  's_metrics',
  [{ name: 'user_id', type: 'int64' }],
  [feature('m_a', 'double'), feature('m_b', 'int64')],
  TTL,
);

describe('GetHistorical streaming', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await openEngine('hist_stream');
    await createTables(engine, [metrics]);
    // m_a = key * 1000 + second, m_b = second; a stale duplicate (older created_ts) of every row.
    const table = qualifiedName(engine.database, tableName(metrics));
    for (const [created, offset] of [
      ['2025-02-01 00:00:00', 0],
      ['2025-01-15 00:00:00', 7],
    ] as const) {
      await engine.executor.command(
        `INSERT INTO ${table} (user_id, event_ts, created_ts, m_a, m_b) SELECT intDiv(number, ${EVENTS}), ` +
          `toDateTime64('2025-01-01 00:00:00', 3, 'UTC') + toIntervalSecond(number % ${EVENTS}), ` +
          `toDateTime64('${created}', 6, 'UTC'), intDiv(number, ${EVENTS}) * 1000 + number % ${EVENTS} + ${offset}, ` +
          `number % ${EVENTS} + ${offset} FROM numbers(${KEYS * EVENTS})`,
      );
    }
  });
  afterAll(() => engine.close());

  it(`streams ${ROWS} rows in input order with flat memory`, async () => {
    // Entity row i: key i % 1000 at second (i % 137) + 0.5 → latest event second min(i % 137, 99),
    // null when (i % 137) + 0.5 - 99 > TTL.
    const sql =
      `SELECT toInt64(number % ${KEYS}) AS user_id, toDateTime64('2025-01-01 00:00:00.500', 3, 'UTC') + ` +
      `toIntervalSecond(number % 137) AS event_ts, number AS n FROM numbers(${ROWS}) ORDER BY number`;
    let expectedSumA = 0;
    let expectedNulls = 0;
    for (let i = 0; i < ROWS; i += 1) {
      const s = i % 137;
      if (s + 0.5 - (EVENTS - 1) > TTL) expectedNulls += 1;
      else expectedSumA += (i % KEYS) * 1000 + Math.min(s, EVENTS - 1);
    }
    let rows = 0;
    let sumA = 0;
    let nulls = 0;
    let orderOk = true;
    let peakRss = 0;
    let chunks = 0;
    const started = performance.now();
    for await (const chunk of runHistorical(engine.executor, engine.database, {
      entities: { kind: 'sql', sql },
      features: resolvedAll([metrics]),
      chunkRows: 65_536,
      format: 'columns',
    })) {
      chunks += 1;
      const columns = chunk.columns ?? [];
      const n = columns.find((c) => c.name === 'n')?.values ?? [];
      const a = columns.find((c) => c.name === 's_metrics__m_a')?.values ?? [];
      for (let i = 0; i < chunk.rowCount; i += 1) {
        if (n[i] !== BigInt(chunk.firstRow + i)) orderOk = false;
        const value = a[i];
        if (value === null) nulls += 1;
        else sumA += value as number;
      }
      rows += chunk.rowCount;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    console.log(
      `historical stream: ${rows} rows in ${chunks} chunks, ${(performance.now() - started).toFixed(0)} ms, ` +
        `peak RSS seen between chunks ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(rows).toBe(ROWS);
    expect(orderOk).toBe(true);
    expect(nulls).toBe(expectedNulls);
    expect(sumA).toBe(expectedSumA);
  });
});
