/**
 * The aggregation oracle on the embedded stack (docs/design/window-aggregations.md §1.11, §6.2):
 * random arrival streams replayed through a real in-process server (LMDB online store, in-process
 * write-behind into chDB) whose clock is injected; online == brute force at every read, then, with
 * the outbox drained, offline (GetHistorical) == brute force over all accepted events and online ==
 * offline wherever no late arrival separates them (the harness: ./aggregation-oracle.ts). CI runs
 * ORACLE_RUNS (default 60) streams; the seed is printed (ORACLE_SEED replays one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { silentLogger } from '@tessera/core';
import { definitionsFromYaml, pollUntil } from '@tessera/testkit';
import { freshBackend, startTestServer, type TestServer } from '../support/server.js';
import { AggregationOracle, writeRequest, type OracleClock, type OracleRow } from './aggregation-oracle.js';
import { ORACLE_SEED, arbStream, oracleRuns, repository } from './aggregation-streams.js';

const RUNS = oracleRuns(60);
const SEED = ORACLE_SEED;

let server: TestServer;
let cleanup: () => void;
// The clock starts at the real time and only moves forward.
const clock: OracleClock = { now: Date.now() };
const oracle = new AggregationOracle(() => server.client, clock);

beforeAll(async () => {
  const fresh = freshBackend('embedded', []);
  cleanup = fresh.cleanup;
  server = await startTestServer(fresh.backend, { logger: silentLogger, clock: () => clock.now });
  await server.client.apply(definitionsFromYaml({ 'repo.yaml': repository() }));
  await oracle.loadViewIds();
}, 120_000);

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  cleanup?.();
});

describe('aggregation oracle, embedded (LMDB + in-process write-behind + chDB)', () => {
  it(`online == brute force, offline == brute force, online == offline (§1.11) for ${RUNS} random streams (seed ${SEED})`, async () => {
    console.log(`aggregation oracle (embedded): seed ${SEED}, ${RUNS} runs (ORACLE_SEED / ORACLE_RUNS to change)`);
    await fc.assert(
      fc.asyncProperty(arbStream, async (ops) => {
        const problem = await oracle.run(ops);
        expect(problem).toBeUndefined();
      }),
      { numRuns: RUNS, seed: SEED, verbose: 1 },
    );
    // The offline half: every accepted event in chDB, then GetHistorical at every (entity, q).
    const drained = await pollUntil(
      async () => (await server.server.writeBehind.stats()).pendingJobs === 0,
      60_000,
      50,
    );
    expect(drained).toBe(true);
    expect((await server.server.writeBehind.stats()).deadLetters).toBe(0);
    expect(await oracle.compareOffline()).toEqual([]);
    console.log(`aggregation oracle (embedded): ${JSON.stringify(oracle.counts)}`);
    expect(oracle.counts.onlineNonEmpty).toBeGreaterThan(0);
    expect(oracle.counts.onlineEqualsOffline).toBeGreaterThan(0);
  }, 600_000);

  it('a replayed Write changes no aggregate and reports its events as duplicates', async () => {
    const base = 99_000_000n;
    const rows: OracleRow[] = [
      { id: base, ts: clock.now - 10, values: [5n, 1.5, 'x', 1, true, 'g0'] },
      { id: base, ts: clock.now - 5, values: [7n, 2.5, 'y', 2, false, 'g1'] },
      { id: base + 1n, ts: clock.now - 5, values: [1n, null, null, null, null, 'g0'] },
    ];
    const refs = ['ev_a:w0_0', 'ev_a:w0_2', 'ev_c:w4_24'];
    const read = () => server.client.getOnlineFeatures(refs, { customer_id: [base, base + 1n] });
    const first = await server.client.write(writeRequest('ev_a', rows));
    await server.client.write(writeRequest('ev_c', rows));
    expect(first.rowsDuplicateEvents).toBe(0n);
    const before = await read();
    expect(before.values).toEqual([
      [2n, 1n],
      [12n, 1n],
      [2n, 1n],
    ]);
    // The same batch three more times, and the same rows under an idempotency key (twice: the
    // second answer is the recorded one).
    for (let i = 0; i < 3; i++)
      expect((await server.client.write(writeRequest('ev_a', rows))).rowsDuplicateEvents).toBe(3n);
    const keyed = { ...writeRequest('ev_a', rows), idempotencyKey: `oracle-replay-${base}` };
    const once = await server.client.write(keyed);
    expect(once.rowsDuplicateEvents).toBe(3n);
    expect(await server.client.write(keyed)).toEqual(once);
    expect((await read()).values).toEqual(before.values);
  });
});
