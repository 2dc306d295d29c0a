/**
 * Caller SQL is confined and every historical query is bounded: the guard refuses each forbidden
 * form with its reason and nothing happens; a runaway entity SELECT stops at its deadline and when
 * cancelled, in the engine (system.processes), not only in Node; the view entity set equals a
 * brute-force expectation from the rows written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTesseraError, type HistoricalRequest } from '@tessera/core';
import { runningQueries } from '@tessera/testkit';
import { guardEntitySql, qualifiedName, tableName } from '../src/index.js';
import {
  collect,
  concatColumns,
  createTables,
  insertRows,
  openEngine,
  resolvedAll,
  view,
  type Engine,
} from './support/oracle-harness.js';
import { feature } from './support/views.js';

const T0 = Date.UTC(2025, 0, 1);
const HOUR = 3_600_000;
const clicks = view('g_clicks', [{ name: 'user_id', type: 'int64' }], [feature('n', 'double')]);

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

function request(entities: HistoricalRequest['entities'], extra: Partial<HistoricalRequest> = {}): HistoricalRequest {
  return { entities, features: resolvedAll([clicks]), chunkRows: 1000, format: 'columns', ...extra };
}

/** How long a stopped query may take to leave the engine on a loaded machine; a runaway would run for hours. */
const ENGINE_STOP_BOUND_MILLIS = 15_000;

/** A SELECT that reads 2M rows and runs for minutes (a 10^12-pair sum), tagged by `marker`. */
function runaway(marker: string): string {
  return (
    `SELECT toInt64(sum(a.number * b.number) % 7) AS user_id, now64(3) AS event_ts, '${marker}' AS tag ` +
    'FROM numbers(1000000) AS a CROSS JOIN numbers(1000000) AS b'
  );
}

describe('entity SQL guard and query limits', () => {
  let engine: Engine;
  let viewTable: string;
  /** (user, event time) pairs written, with duplicates from a replay. */
  const events: [bigint, number][] = [];
  beforeAll(async () => {
    engine = await openEngine('guard');
    await createTables(engine, [clicks]);
    viewTable = qualifiedName(engine.database, tableName(clicks));
    for (let user = 1n; user <= 4n; user += 1n) {
      for (let i = 0; i < Number(user) * 2; i += 1) events.push([user, T0 + i * 5 * HOUR + Number(user) * 1000]);
    }
    const rows = events.map(([user, ts]) => ({ keys: [user], eventTsMillis: ts, createdTsMicros: 10n, values: [1] }));
    await insertRows(engine, clicks, rows);
    // A replay of user 2's rows: same (key, event_ts), a newer created_ts.
    await insertRows(
      engine,
      clicks,
      rows.filter((r) => r.keys[0] === 2n).map((r) => ({ ...r, createdTsMicros: 20n })),
    );
  });
  afterAll(async () => {
    await engine.close();
  });

  async function refusal(sql: string): Promise<string> {
    const error = await errorOf(guardEntitySql(engine.executor, sql, { database: engine.database }));
    expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
    return String(error);
  }

  it('refuses each forbidden form with its reason, and nothing happens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-guard-'));
    const written = join(dir, 'written.csv');
    expect(await refusal("SELECT * FROM file('/etc/passwd', 'LineAsString')")).toMatch(
      /entity_sql: table function file\(\) is not allowed/,
    );
    expect(await refusal("SELECT * FROM url('http://127.0.0.1:1/x', 'CSV')")).toMatch(/table function url\(\)/);
    expect(await refusal("SELECT * FROM s3('http://127.0.0.1:1/b/k.csv', 'CSV')")).toMatch(/table function s3\(\)/);
    expect(await refusal("SELECT * FROM remote('127.0.0.1:9000', system.one)")).toMatch(/table function remote\(\)/);
    expect(await refusal("SELECT * FROM executable('cat /etc/passwd', 'CSV', 'x String')")).toMatch(
      /table function executable\(\)/,
    );
    expect(await refusal(`INSERT INTO FUNCTION file('${written}', 'CSV') SELECT 1`)).toMatch(
      /exactly one SELECT statement is allowed \(got "Insert"\)/,
    );
    expect(await refusal(`DROP TABLE ${viewTable}`)).toMatch(/exactly one SELECT statement is allowed \(got "Drop"\)/);
    expect(await refusal(`SELECT 1 AS user_id, now64(3) AS event_ts; DROP TABLE ${viewTable}`)).toMatch(
      /exactly one SELECT statement is allowed \(found more than one\)/,
    );
    expect(await refusal(`SELECT * FROM ${viewTable} SETTINGS max_execution_time = 0`)).toMatch(
      /a SETTINGS clause is not allowed/,
    );
    expect(await refusal(`SELECT 1 INTO OUTFILE '${written}'`)).toMatch(/FORMAT and INTO OUTFILE are not allowed/);
    expect(await refusal("SELECT dictGet('d', 'a', toUInt64(1)) AS x")).toMatch(/function dictGet\(\) is not allowed/);
    expect(await refusal('SELECT * FROM system.users')).toMatch(/table system\.users is not allowed/);
    expect(await refusal(`SELECT 1 AS x WHERE 1 IN ${viewTable}`)).toMatch(/in over a table name is not allowed/);
    // An alias holding a line break could forge lines of the syntax tree: refused, even when
    // everything else is allowed.
    expect(await refusal('SELECT 1 AS `a)\n      Function numbers (alias b` FROM numbers(1)')).toMatch(
      /could not be checked \(a name or alias holding a line break is not allowed\)/,
    );
    expect(await refusal('SELEC 1')).toMatch(/does not parse/);
    expect(await refusal(`SELECT '${'x'.repeat(100_001)}'`)).toMatch(/is 100010 characters long; the limit is 100000/);

    // Nothing happened: the view's table is there with its rows, no file was written.
    const count = await engine.executor.queryJson<{ n: string }>(`SELECT toString(count()) AS n FROM ${viewTable}`);
    expect(Number(count[0]?.n)).toBeGreaterThan(0);
    expect(existsSync(written)).toBe(false);
  });

  it('accepts one SELECT over the offline tables and generators, returning its canonical text', async () => {
    const canonical = await guardEntitySql(
      engine.executor,
      `-- training spine\nSELECT user_id, event_ts FROM ${viewTable} WHERE user_id IN (SELECT number FROM numbers(3));`,
      { database: engine.database },
    );
    // Comment and `;` gone, names as the engine prints them.
    expect(canonical.replaceAll('`', '')).toBe(
      `SELECT user_id, event_ts FROM ${viewTable.replaceAll('`', '')} WHERE user_id IN (SELECT number FROM numbers(3))`,
    );
  });

  it('stops a runaway entity SELECT in the engine at its deadline', async () => {
    const marker = `runaway-${Math.random()}`;
    const deadlineMillis = Date.now() + 1500;
    const error = await errorOf(collect(engine, request({ kind: 'sql', sql: runaway(marker) }, { deadlineMillis })));
    expect(isTesseraError(error) && error.code).toBe('DEADLINE_EXCEEDED');
    // Gone from the engine's process list, not only answered (its 10^12 rows would take hours).
    while ((await running(marker)) > 0 && Date.now() - deadlineMillis < ENGINE_STOP_BOUND_MILLIS)
      await new Promise((r) => setTimeout(r, 50));
    expect(await running(marker)).toBe(0);
  });

  const running = (marker: string): Promise<number> => runningQueries(engine.executor, marker);

  it('kills a cancelled runaway entity SELECT in the engine, without a deadline', async () => {
    const marker = `cancelled-${Math.random()}`;
    const controller = new AbortController();
    const result = errorOf(
      collect(engine, request({ kind: 'sql', sql: runaway(marker) }, { signal: controller.signal })),
    );
    // Seen running in the engine first (a session starts slowly on a loaded machine).
    const until = Date.now() + 30_000;
    while ((await running(marker)) === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await running(marker)).toBe(1);
    const cancelledAt = Date.now();
    controller.abort();
    const error = await result;
    expect(isTesseraError(error) && error.code).toBe('DEADLINE_EXCEEDED');
    while ((await running(marker)) > 0 && Date.now() - cancelledAt < ENGINE_STOP_BOUND_MILLIS)
      await new Promise((r) => setTimeout(r, 50));
    expect(await running(marker)).toBe(0);
  });

  it('bounds the rows of an entity SELECT, naming the limit', async () => {
    const sql = 'SELECT toInt64(number) AS user_id, now64(3) AS event_ts FROM numbers(11)';
    const error = await errorOf(collect(engine, request({ kind: 'sql', sql }, { maxEntityRows: 10 })));
    expect(isTesseraError(error) && error.code).toBe('RESOURCE_EXHAUSTED');
    expect(String(error)).toMatch(/more than the limit of 10 entity rows/);
    const exact = await collect(engine, request({ kind: 'sql', sql }, { maxEntityRows: 11 }));
    expect(exact.reduce((n, c) => n + c.rowCount, 0)).toBe(11);
  });

  const start = T0 + 2 * HOUR;
  const end = T0 + 30 * HOUR;

  it('builds the view entity set at each event time, as a brute force over the rows written says', async () => {
    const columns = concatColumns(
      await collect(engine, request({ kind: 'view', view: clicks, startMillis: start, endMillis: end, hopMillis: 0 })),
    );
    const expected = [...new Set(events.filter(([, ts]) => ts >= start && ts < end).map(([u, ts]) => `${u}@${ts}`))]
      .map((s) => s.split('@').map(Number) as [number, number])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(expected.length).toBeGreaterThan(3);
    const got = (columns[0]?.values ?? []).map((u, i) => [Number(u), Number(columns[1]?.values[i])]);
    expect(got).toEqual(expected);
    expect(columns.map((c) => c.name)).toEqual(['user_id', 'event_ts', 'g_clicks__n']);
  });

  it('builds the view entity set on a hop grid for each entity with events in the range', async () => {
    const hop = 7 * HOUR;
    const columns = concatColumns(
      await collect(
        engine,
        request({ kind: 'view', view: clicks, startMillis: start, endMillis: end, hopMillis: hop }),
      ),
    );
    const users = [...new Set(events.filter(([, ts]) => ts >= start && ts < end).map(([u]) => Number(u)))].sort();
    const grid: number[] = [];
    for (let t = start; t < end; t += hop) grid.push(t);
    const expected = users.flatMap((u) => grid.map((t) => [u, t]));
    const got = (columns[0]?.values ?? []).map((u, i) => [Number(u), Number(columns[1]?.values[i])]);
    expect(got).toEqual(expected);
  });

  it('refuses a view entity set beyond the row limit or with a bad range or hop, naming the rule', async () => {
    const spine = (extra: Partial<Extract<HistoricalRequest['entities'], { kind: 'view' }>>, maxEntityRows?: number) =>
      errorOf(
        collect(
          engine,
          request(
            { kind: 'view', view: clicks, startMillis: start, endMillis: end, hopMillis: 0, ...extra },
            maxEntityRows === undefined ? {} : { maxEntityRows },
          ),
        ),
      );
    const tooMany = await spine({}, 3);
    expect(isTesseraError(tooMany) && tooMany.code).toBe('RESOURCE_EXHAUSTED');
    expect(String(tooMany)).toMatch(/more than the limit of 3 entity rows/);
    const gridTooLarge = await spine({ startMillis: 0, endMillis: 1e12, hopMillis: 1000 });
    expect(isTesseraError(gridTooLarge) && gridTooLarge.code).toBe('RESOURCE_EXHAUSTED');
    const backwards = await spine({ startMillis: end, endMillis: start });
    expect(String(backwards)).toMatch(/view_entities: start_time .* must be before end_time/);
    const hop = await spine({ hopMillis: 999 });
    expect(String(hop)).toMatch(/hop_millis must be 0 .* or at least 1000 ms/);
    const far = await spine({ endMillis: Date.UTC(2300, 0, 1) });
    expect(String(far)).toMatch(/end_time must be whole milliseconds between 1900-01-01 and 2299-12-31/);
    for (const error of [backwards, hop, far]) expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
  });
});
