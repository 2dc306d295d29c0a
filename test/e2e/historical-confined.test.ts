/**
 * GetHistorical is safe to expose (issue 13): entity SQL is confined (each forbidden form refused
 * with its reason, nothing happens), the built-in view entity set needs no SQL, a runaway query
 * stops at its deadline or cancel in the engine, and GetHistorical runs in a bounded lane that
 * answers RESOURCE_EXHAUSTED when full and holds up neither other calls nor offline writes.
 * Real server, real chDB.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TesseraError } from '@tessera/core';
import { fromColumn, toColumn } from '@tessera/client';
import { ChdbExecutor } from '@tessera/offline';
import { credentials } from '@grpc/grpc-js';
import { Durability, FeatureStoreClient, HistoricalFormat, WriteTarget } from '@tessera/proto';
import type { GetHistoricalRequest, GetHistoricalResponse } from '@tessera/proto';
import { definitionsFromYaml, runningQueries } from '@tessera/testkit';
import { freshBackend, startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

const REPO = {
  'repo.yaml': `
project: confined
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: orders
    entities: [customer]
    features:
      - { name: amount, type: double }
`,
};

const CLI = join(import.meta.dirname, '..', '..', 'packages', 'cli', 'bin', 'tessera.js');
const run = promisify(execFile);
const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
/** (customer, event time, amount) written offline. */
const EVENTS: [number, number, number][] = [
  [1, T0 + 1 * HOUR, 10],
  [1, T0 + 5 * HOUR, 11],
  [2, T0 + 2 * HOUR, 20],
  [3, T0 + 9 * HOUR, 30],
  [3, T0 + 30 * HOUR, 31],
];
const TABLE = 'tessera.fv_orders__v1';
const LANE = 2;
/** How long a stopped query may take to leave the engine on a loaded machine; a runaway would run for hours. */
const ENGINE_STOP_BOUND_MILLIS = 15_000;
/** How long a query may take to show up in the engine on a loaded machine (CI runs two files at once). */
const ENGINE_START_BOUND_MILLIS = 30_000;

/** An entity SELECT that runs for minutes (a 10^12-pair sum), tagged by `marker`. */
function runaway(marker: string): string {
  return (
    `SELECT toInt64(sum(a.number * b.number) % 3) AS customer_id, now64(3) AS event_ts, '${marker}' AS tag ` +
    'FROM numbers(1000000) AS a CROSS JOIN numbers(1000000) AS b'
  );
}

describe('confined, bounded and laned GetHistorical (embedded chDB)', () => {
  let t: TestServer;
  let cleanup: () => void;
  let engine: ChdbExecutor;

  beforeAll(async () => {
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend, { lanes: { historical: LANE } });
    // The server's own engine (one per process), to watch its process list.
    engine = ChdbExecutor.open({ path: join((fresh.backend as { dataDir: string }).dataDir, 'offline') });
    await t.client.apply(definitionsFromYaml(REPO));
    for (const [id, at, amount] of EVENTS) {
      await t.client.write({
        featureView: 'orders',
        target: WriteTarget.WRITE_TARGET_OFFLINE,
        durability: Durability.DURABILITY_SYNC,
        columns: { customer_id: toColumn('int64', [BigInt(id)]), amount: toColumn('double', [amount]) },
        eventTimestamps: toColumn('timestamp', [at]),
      });
    }
  }, 120_000);

  afterAll(async () => {
    await engine?.close();
    await t?.[Symbol.asyncDispose]();
    cleanup?.();
  });

  const base = (entities: GetHistoricalRequest['entities']): GetHistoricalRequest => ({
    entities,
    features: ['orders:amount'],
    featureService: '',
    format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
    chunkRows: 1000,
  });

  async function rows(request: GetHistoricalRequest, timeoutMillis?: number): Promise<Record<string, unknown[]>> {
    const chunks: GetHistoricalResponse[] = [];
    for await (const chunk of t.client.getHistorical(request, timeoutMillis === undefined ? {} : { timeoutMillis }))
      chunks.push(chunk);
    const names = chunks[0]?.names ?? [];
    return Object.fromEntries(
      names.map((name, i) => [name, chunks.flatMap((c) => fromColumn(c.columns[i]!) as unknown[])]),
    );
  }

  async function failure(request: GetHistoricalRequest, timeoutMillis?: number): Promise<TesseraError> {
    try {
      await rows(request, timeoutMillis);
    } catch (error) {
      return error as TesseraError;
    }
    throw new Error('expected a failure');
  }

  const sql = (value: string) => base({ $case: 'entitySql', value });

  const running = (marker: string): Promise<number> => runningQueries(engine, marker);

  it('refuses each forbidden entity SQL form with its reason, and nothing happens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-confined-'));
    const written = join(dir, 'out.csv');
    const cases: [string, RegExp][] = [
      ["SELECT * FROM file('/etc/passwd', 'LineAsString')", /entity_sql: table function file\(\) is not allowed/],
      ["SELECT * FROM url('http://127.0.0.1:1/', 'CSV')", /table function url\(\) is not allowed/],
      ["SELECT * FROM s3('http://127.0.0.1:1/b/k', 'CSV')", /table function s3\(\) is not allowed/],
      ["SELECT * FROM remote('127.0.0.1:9000', system.one)", /table function remote\(\) is not allowed/],
      ["SELECT * FROM executable('id', 'CSV', 'x String')", /table function executable\(\) is not allowed/],
      [`INSERT INTO FUNCTION file('${written}', 'CSV') SELECT 1`, /exactly one SELECT statement/],
      [`DROP TABLE ${TABLE}`, /exactly one SELECT statement/],
      [`SELECT customer_id, event_ts FROM ${TABLE}; DROP TABLE ${TABLE}`, /exactly one SELECT statement/],
      [`SELECT customer_id, event_ts FROM ${TABLE} SETTINGS max_execution_time = 0`, /SETTINGS clause is not allowed/],
    ];
    for (const [text, reason] of cases) {
      const error = await failure(sql(text));
      expect(error.code, text).toBe('INVALID_ARGUMENT');
      expect(error.message, text).toMatch(reason);
    }
    expect(existsSync(written)).toBe(false);
    // The view's table is still there: an allowed SELECT over it works end to end.
    const result = await rows(
      sql(`SELECT customer_id, event_ts FROM ${TABLE} WHERE customer_id = 1 ORDER BY event_ts`),
    );
    expect(result['customer_id']).toEqual([1n, 1n]);
    expect(result['orders__amount']).toEqual([10, 11]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the view entity set without SQL, as a brute force over the written events says', async () => {
    const start = T0 + 2 * HOUR;
    const end = T0 + 24 * HOUR;
    const result = await rows(
      base({
        $case: 'viewEntities',
        value: { featureView: 'orders', startTime: BigInt(start), endTime: BigInt(end), hopMillis: 0n },
      }),
    );
    const inRange = EVENTS.filter(([, at]) => at >= start && at < end).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(result['customer_id']).toEqual(inRange.map(([id]) => BigInt(id)));
    expect(result['event_ts']).toEqual(inRange.map(([, at]) => at));
    expect(result['orders__amount']).toEqual(inRange.map(([, , amount]) => amount));

    const hop = 4 * HOUR;
    const grid = await rows(
      base({
        $case: 'viewEntities',
        value: { featureView: 'orders', startTime: BigInt(start), endTime: BigInt(end), hopMillis: BigInt(hop) },
      }),
    );
    const ids = [...new Set(inRange.map(([id]) => id))];
    const points: number[] = [];
    for (let at = start; at < end; at += hop) points.push(at);
    expect(grid['customer_id']).toEqual(ids.flatMap((id) => points.map(() => BigInt(id))));
    expect(grid['event_ts']).toEqual(ids.flatMap(() => points));
    // The latest amount at or before each point, brute force.
    const latest = (id: number, at: number) =>
      EVENTS.filter(([i, when]) => i === id && when <= at).sort((a, b) => b[1] - a[1])[0]?.[2] ?? null;
    expect(grid['orders__amount']).toEqual(ids.flatMap((id) => points.map((at) => latest(id, at))));

    const bad = await failure(
      base({
        $case: 'viewEntities',
        value: { featureView: 'orders', startTime: BigInt(end), endTime: BigInt(start), hopMillis: 0n },
      }),
    );
    expect(bad.code).toBe('INVALID_ARGUMENT');
    expect(bad.message).toMatch(/start_time .* must be before end_time/);
    const unknown = await failure(
      base({ $case: 'viewEntities', value: { featureView: 'nope', startTime: 0n, endTime: 1n, hopMillis: 0n } }),
    );
    expect(unknown.code).toBe('NOT_FOUND');
  });

  it('builds a view entity set training file with the CLI, no entity file needed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-confined-cli-'));
    const out = join(dir, 'train.csv');
    const cli = (...args: string[]) => run('node', [CLI, '--server', t.server.address, ...args]);
    const start = new Date(T0).toISOString();
    const end = new Date(T0 + 24 * HOUR).toISOString();
    await cli(
      'historical',
      '--view-entities',
      'orders',
      '--start',
      start,
      '--end',
      end,
      '--hop',
      '12h',
      '--features',
      'orders:amount',
      '--out',
      out,
    );
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('customer_id,event_ts,orders__amount');
    // Customers 1, 2, 3 have events in the day; the grid is T0 and T0 + 12 h.
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['1', '1', '2', '2', '3', '3']);
    const missing = await cli('historical', '--features', 'orders:amount', '--out', out).catch(
      (e: { stderr: string }) => e,
    );
    expect(String((missing as { stderr?: string }).stderr)).toMatch(/give --entities <file> or --view-entities <view>/);
    const badHop = await cli(
      'historical',
      '--view-entities',
      'orders',
      '--start',
      start,
      '--end',
      end,
      '--hop',
      'soon',
      '--features',
      'orders:amount',
      '--out',
      out,
    ).catch((e: { stderr: string }) => e);
    expect(String((badHop as { stderr?: string }).stderr)).toMatch(/--hop "soon": use a duration/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops a runaway query at its deadline; meanwhile a full lane refuses at once and sync offline writes flow', async () => {
    const markers = [`runaway-a-${Math.random()}`, `runaway-b-${Math.random()}`];
    const deadlineMillis = Date.now() + 2000;
    const runaways = markers.map((m) => failure(sql(runaway(m)), deadlineMillis - Date.now()));
    // Order, not time, shows what the runaways hold up: each check below must come back before they end.
    let runawaysAnswered = false;
    void Promise.all(runaways).then(() => (runawaysAnswered = true));
    const until = Date.now() + 1500;
    while ((await running(markers[1]!)) === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));

    // The lane holds LANE calls: one more is refused at once, naming the lane and its limit.
    const full = await failure(sql(`SELECT customer_id, event_ts FROM ${TABLE}`));
    expect(full.code).toBe('RESOURCE_EXHAUSTED');
    expect(full.message).toMatch(new RegExp(`historical lane is full \\(${LANE} running at once\\)`));
    expect(runawaysAnswered, 'refused while the runaways still run').toBe(false);

    // An offline write on the engine's shared connection is not held up by the runaways.
    await t.client.write({
      featureView: 'orders',
      target: WriteTarget.WRITE_TARGET_OFFLINE,
      durability: Durability.DURABILITY_SYNC,
      columns: { customer_id: toColumn('int64', [99n]), amount: toColumn('double', [1]) },
      eventTimestamps: toColumn('timestamp', [T0]),
    });
    expect(runawaysAnswered, 'written while the runaways still run').toBe(false);

    for (const error of await Promise.all(runaways)) expect(error.code).toBe('DEADLINE_EXCEEDED');
    // Gone from the engine, not only answered (a runaway's 10^12 rows would take hours).
    for (const marker of markers) {
      while ((await running(marker)) > 0 && Date.now() - deadlineMillis < ENGINE_STOP_BOUND_MILLIS)
        await new Promise((r) => setTimeout(r, 20));
      expect(await running(marker), marker).toBe(0);
    }

    // The lane is free again: another GetHistorical is answered.
    const after = await rows(sql(`SELECT customer_id, event_ts FROM ${TABLE} WHERE customer_id = 2`));
    expect(after['orders__amount']).toEqual([20]);
  });

  it('stops the query of a cancelled call in the engine', async () => {
    const marker = `cancelled-${Math.random()}`;
    // A raw call with no deadline, cancelled by the client.
    const raw = new FeatureStoreClient(t.server.address, credentials.createInsecure());
    const call = raw.getHistorical(sql(runaway(marker)));
    const ended = new Promise<unknown>((resolve) => {
      call.on('error', resolve);
      call.on('end', () => resolve(undefined));
    });
    call.on('data', () => undefined);
    // Seen running in the engine first (a session starts slowly on a loaded machine).
    let settled: unknown = 'still open';
    void ended.then((outcome) => (settled = outcome ?? 'ended'));
    const until = Date.now() + ENGINE_START_BOUND_MILLIS;
    while ((await running(marker)) === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(await running(marker), `the call: ${String(settled)}`).toBe(1);
    const cancelledAt = Date.now();
    call.cancel();
    while ((await running(marker)) > 0 && Date.now() - cancelledAt < ENGINE_STOP_BOUND_MILLIS)
      await new Promise((r) => setTimeout(r, 20));
    expect(await running(marker)).toBe(0);
    expect(String(await ended)).toMatch(/CANCELLED|Cancelled/);
    raw.close();
  });
});
