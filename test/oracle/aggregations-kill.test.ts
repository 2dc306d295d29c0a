/**
 * kill -9 of a `tessera serve` process in the middle of a stream of event Writes (design §3.7,
 * §6.2 "Companions"): the client retries every unacknowledged Write, unchanged, against the
 * restarted server until it is acknowledged. Afterwards, for every entity, the online value, the
 * offline value (GetHistorical at the read's t) and the brute force over every event the client
 * sent agree for every aggregation of two of the oracle's views — an event whose first attempt
 * landed (online, offline, or both) is counted once by its fp on both sides — and no write-behind
 * job is a dead letter.
 *
 * Cluster mode: the suite's Redis Cluster, BullMQ and an offline server (chDB) in this process, the
 * server and the writer child processes; the writer is killed -9 too while jobs are pending, and
 * another takes its jobs over once their locks lapse (same insert token; fp dedup either way). Embedded mode: the LMDB fold and its outbox entry commit in
 * one transaction, so a kill between them cannot happen; the restarted server drains the outbox.
 * Real time (a child process has no injected clock): every event is a few seconds old, so eligible.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TesseraClient, fromColumn, toColumn } from '@tessera/client';
import { silentLogger } from '@tessera/core';
import { startOfflineServer } from '@tessera/feature-server';
import type { GetHistoricalResponse } from '@tessera/proto';
import { HistoricalFormat } from '@tessera/proto';
import { definitionsFromYaml, pollUntil, sleep, startCli, startWriterCli, type CliProcess } from '@tessera/testkit';
import { openBullmqDeadLetters } from '@tessera/writebehind';
import type { BruteEvent, BruteValue } from '../../packages/core/test/oracle/brute-force.js';
import { bruteDistinct } from '../../packages/core/test/oracle/brute-force.js';
import { AggregationOracle, entityKeyOf, same, show, writeRequest, type OracleRow } from './aggregation-oracle.js';
import { G, SERVED, repository } from './aggregation-streams.js';

/** A row the client sent, and to which view. */
interface SentRow {
  readonly view: string;
  readonly row: OracleRow;
}

const { nodes } = inject('redisCluster');
/** Entities written (ids 1…ENTITY_COUNT). */
const ENTITY_COUNT = 12;
/** Writes in flight at once, and in all; the kill comes after KILL_AFTER acknowledgements. */
const CONCURRENCY = 4;
const TOTAL_WRITES = 240;
const KILL_AFTER = 80;
/** Attempts of one Write before the test gives up on it (each waits for a server first). */
const MAX_ATTEMPTS = 40;
const VIEWS_WRITTEN = ['ev_a', 'ev_c'];
// Grouped refs too (§1.8): a kill between an entity's own call and its group calls must heal.
const REFS = SERVED.filter((s) => VIEWS_WRITTEN.some((v) => s.ref.startsWith(`${v}:`)));
/** The group value read for entity k (`g3`, no event has it, for the last). */
const groupOfEntity = (k: number): string => `g${k % 4}`;

const dirs: string[] = [];
const processes: CliProcess[] = [];
afterAll(async () => {
  for (const p of processes) await p.stop('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${name}-`));
  dirs.push(dir);
  return dir;
}

/** A `tessera serve` child and a client with short deadlines (a dead server fails the call soon). */
interface Serve {
  readonly process: CliProcess;
  readonly client: TesseraClient;
}

async function startServe(args: readonly string[]): Promise<Serve> {
  const process = startCli(['serve', '--port', '0', ...args]);
  processes.push(process);
  const [, address = ''] = await process.waitFor(/serving on (\S+)/, 60_000);
  return { process, client: new TesseraClient({ address, timeoutMillis: 5_000 }) };
}

/** The n-th row the client sends: distinct values, an event time a few seconds back. */
function rowOf(n: number, sentAt: number): OracleRow {
  const id = BigInt(1 + (n % ENTITY_COUNT));
  const values: BruteValue[] = [
    BigInt(n * 7919 - 500_000),
    n % 5 === 0 ? null : n / 8 - 3,
    `s${n % 9}`,
    sentAt - n,
    n % 2 === 0,
    `g${n % 3}`,
  ];
  return { id, ts: sentAt - (n % 3_000), values };
}

/**
 * Sends TOTAL_WRITES Writes (CONCURRENCY at a time), each until acknowledged; kills the server
 * (SIGKILL) once KILL_AFTER are acknowledged and starts another. Returns every row sent.
 */
async function writeThroughKill(
  first: Serve,
  restart: () => Promise<Serve>,
  /** Runs (not awaited by the Writes) once this many Writes are acknowledged. */
  also?: { readonly after: number; readonly run: () => Promise<void> },
): Promise<{ rows: SentRow[]; unacknowledgedAtKill: number; serve: Serve }> {
  let serve = first;
  let restarting: Promise<void> | undefined;
  let alsoRunning: Promise<void> | undefined;
  let acknowledged = 0;
  let sent = 0;
  let unacknowledgedAtKill = -1;
  const rows: SentRow[] = [];
  const kill = async (): Promise<void> => {
    unacknowledgedAtKill = sent - acknowledged;
    const old = serve;
    await old.process.stop('SIGKILL');
    old.client.close();
    serve = await restart();
  };
  const loop = async (): Promise<void> => {
    for (;;) {
      const n = sent++;
      if (n >= TOTAL_WRITES) return;
      const sentAt = Date.now();
      const batch = Array.from({ length: 1 + (n % 6) }, (_, j) => rowOf(n * 6 + j, sentAt));
      const view = VIEWS_WRITTEN[n % VIEWS_WRITTEN.length]!;
      rows.push(...batch.map((row) => ({ view, row })));
      const request = writeRequest(view, batch);
      for (let attempt = 1; ; attempt++) {
        await restarting;
        try {
          await serve.client.write(request);
          break;
        } catch (error) {
          if (attempt >= MAX_ATTEMPTS) throw error;
          await sleep(100);
        }
      }
      if (++acknowledged === KILL_AFTER) restarting = kill();
      if (acknowledged === also?.after) alsoRunning = also.run();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  await restarting;
  await alsoRunning;
  return { rows, unacknowledgedAtKill, serve };
}

/** Online (at the server's t) vs GetHistorical at t vs the brute force over `rows` of their views. */
async function compareAll(
  oracle: AggregationOracle,
  client: TesseraClient,
  rows: readonly SentRow[],
): Promise<string[]> {
  const ids = Array.from({ length: ENTITY_COUNT + 1 }, (_, k) => BigInt(1 + k)); // the last one never written
  const groups = ids.map((_, k) => groupOfEntity(k));
  const online = await client.getOnlineFeatures(
    REFS.map((s) => s.ref),
    { customer_id: ids, g: groups },
    { includeEventTimestamps: true },
  );
  const t = online.eventTimestamps?.[0]?.[0] ?? 0;
  const chunks: GetHistoricalResponse[] = [];
  for await (const chunk of client.getHistorical({
    entities: {
      $case: 'rows',
      value: {
        keys: { customer_id: toColumn('int64', ids) },
        eventTimestamps: ids.map(() => BigInt(t)),
        passthrough: { g: toColumn('string', groups) },
      },
    },
    features: REFS.map((s) => s.ref),
    featureService: '',
    format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
    chunkRows: 0,
  }))
    chunks.push(chunk);
  const names = chunks[0]?.names ?? [];
  const problems: string[] = [];
  const events = (view: string): BruteEvent[] =>
    bruteDistinct(
      rows
        .filter((r) => r.view === view)
        .map(({ row }) => ({ entityKey: entityKeyOf(row.id), ts: row.ts, values: row.values })),
    );
  const byView = new Map(VIEWS_WRITTEN.map((v) => [v, events(v)]));
  REFS.forEach(({ ref, spec, grouped }, r) => {
    const column = names.indexOf(ref.replace(':', '__'));
    const offline = column < 0 ? [] : chunks.flatMap((c) => fromColumn(c.columns[column]!));
    const view = ref.slice(0, ref.indexOf(':'));
    ids.forEach((id, k) => {
      const mine = byView
        .get(view)!
        .filter((e) => e.entityKey === entityKeyOf(id) && (!grouped || e.values[G] === groups[k]));
      const expected = oracle.expected(ref, spec, mine, t);
      const onlineValue = online.values[r]![k];
      if (online.eventTimestamps?.[r]?.[k] !== t)
        problems.push(`${ref} entity ${id}: read at ${online.eventTimestamps?.[r]?.[k]}, not ${t}`);
      else if (
        !same(spec, onlineValue, expected.value, expected.tolerance) ||
        !same(spec, offline[k], expected.value, expected.tolerance)
      )
        problems.push(
          `${ref} entity ${id} at ${t} (${mine.length} events): online ${show(onlineValue)}, offline ${show(offline[k])}, brute force ${show(expected.value)}`,
        );
    });
  });
  return problems.slice(0, 5);
}

/** Waits for `check` to find no problem (the offline copy may still be on its way), then returns its last answer. */
async function settled(check: () => Promise<string[]>): Promise<string[]> {
  let problems: string[] = [];
  await pollUntil(
    async () => {
      problems = await check();
      return problems.length === 0;
    },
    60_000,
    500,
  );
  return problems;
}

describe('kill -9 of a server in the middle of event Writes (aggregations)', () => {
  it('cluster: online == offline == brute force over every event sent, no dead letter', async () => {
    const keyPrefix = `okl${randomBytes(4).toString('hex')}:`;
    const offline = await startOfflineServer({
      port: 0,
      dataDir: tempDir('oracle-kill-offline'),
      apiKeys: { kind: 'redis-cluster', nodes, keyPrefix },
      logger: silentLogger,
    });
    const writerDir = tempDir('oracle-kill-writer');
    const startWriter = () =>
      startWriterCli(nodes, keyPrefix, writerDir, [
        '--offline-server',
        offline.address,
        '--lock-ms',
        '1500',
        '--concurrency',
        '2',
      ]).then((writer) => {
        processes.push(writer);
        return writer;
      });
    const queue = openBullmqDeadLetters(nodes, keyPrefix);
    let pendingAtWriterKill = -1;
    const args = [
      '--redis-cluster',
      nodes.map((n) => `${n.host}:${n.port}`).join(','),
      '--key-prefix',
      keyPrefix,
      '--offline-server',
      offline.address,
    ];
    try {
      const firstWriter = await startWriter();
      const first = await startServe(args);
      await first.client.apply(definitionsFromYaml({ 'repo.yaml': repository() }));
      const oracle = new AggregationOracle(() => first.client, { now: 0 });
      await oracle.loadViewIds();
      const { rows, unacknowledgedAtKill, serve } = await writeThroughKill(first, () => startServe(args), {
        after: 2 * KILL_AFTER,
        // The writer too, while it works through jobs (bounded wait for one to be pending), then another.
        run: async () => {
          await pollUntil(async () => (await queue.stats()).pendingJobs > 0, 10_000, 5);
          pendingAtWriterKill = (await queue.stats()).pendingJobs;
          await firstWriter.stop('SIGKILL');
          await startWriter();
        },
      });
      const drained = await pollUntil(async () => (await queue.stats()).pendingJobs === 0, 120_000, 50);
      expect(drained, `queue not drained: ${JSON.stringify(await queue.stats())}`).toBe(true);
      expect((await queue.stats()).deadLetters).toBe(0);
      console.log(
        `oracle kill -9 (cluster): ${rows.length} rows in ${TOTAL_WRITES} Writes, ${unacknowledgedAtKill} unacknowledged at the server kill, ${pendingAtWriterKill} jobs pending at the writer kill`,
      );
      expect(unacknowledgedAtKill).toBeGreaterThanOrEqual(0);
      expect(await compareAll(oracle, serve.client, rows)).toEqual([]);
      serve.client.close();
    } finally {
      await queue.close();
      await offline.close();
    }
  }, 240_000);

  it('embedded: online == offline == brute force over every event sent after a restart', async () => {
    const dataDir = tempDir('oracle-kill-embedded');
    const args = ['--data-dir', dataDir];
    const first = await startServe(args);
    await first.client.apply(definitionsFromYaml({ 'repo.yaml': repository() }));
    const oracle = new AggregationOracle(() => first.client, { now: 0 });
    await oracle.loadViewIds();
    const { rows, unacknowledgedAtKill, serve } = await writeThroughKill(first, () => startServe(args));
    console.log(
      `oracle kill -9 (embedded): ${rows.length} rows in ${TOTAL_WRITES} Writes, ${unacknowledgedAtKill} unacknowledged at the kill`,
    );
    // The restarted server drains the outbox (the killed one's entries too) in the background.
    expect(await settled(() => compareAll(oracle, serve.client, rows))).toEqual([]);
    serve.client.close();
  }, 240_000);
});
