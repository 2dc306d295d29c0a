// Cost of the embedded event fold (design §3.3, §6.4 item 1's embedded half, the store only):
// LmdbOnlineStore.write batches with 3 window aggregations (count 7d/1h, sum 30d/1d, mean 30d/1d)
// against the same batches without events (LWW rows only), interleaved, one transaction per
// batch as the server runs them. No server, no gRPC, no fingerprinting: what the LMDB fold costs.
// The shape of bench/aggregations.ts's write rounds: batches of `--batch` rows over `--entities`
// entities, one event per row, times within the last 50 minutes, L = 7 d.
// Also times a bare put loop (the same number of puts as an aggregated batch makes, one
// transaction, in the store's environment), the floor of what LMDB charges for a commit of that size.
//
//   npx tsx bench/agg-write-lmdb.ts [--entities 20000] [--batch 500] [--batches 200]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DAY_MILLIS,
  HOUR_MILLIS,
  compileAggregationPlan,
  encodeEventRecord,
  eventRecordLayout,
  type OnlineWriteBatch,
} from '@tessera/core';
import { LmdbOnlineStore } from '@tessera/online';

const { values } = parseArgs({
  options: {
    entities: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '500' },
    batches: { type: 'string', default: '200' },
  },
});
const ENTITIES = Number(values.entities);
const BATCH = Number(values.batch);
const BATCHES = Number(values.batches);
const MINUTE = 60_000;

const plan = compileAggregationPlan([
  { function: 'count', input: null, windowMillis: 7 * DAY_MILLIS, hopMillis: HOUR_MILLIS, n: 0, precision: 0 },
  {
    function: 'sum',
    input: { index: 0, type: 'double' },
    windowMillis: 30 * DAY_MILLIS,
    hopMillis: DAY_MILLIS,
    n: 0,
    precision: 0,
  },
  {
    function: 'mean',
    input: { index: 0, type: 'double' },
    windowMillis: 30 * DAY_MILLIS,
    hopMillis: DAY_MILLIS,
    n: 0,
    precision: 0,
  },
]);
const layout = eventRecordLayout(plan);

function row(eventTs: number): Buffer {
  const out = Buffer.alloc(9 + 40);
  out.writeUInt8(1, 0);
  out.writeDoubleLE(eventTs, 1);
  return out;
}

function fp(n: number): Uint8Array {
  const out = Buffer.alloc(16);
  out.writeUInt32BE(n, 12);
  out.writeUInt32BE(process.pid, 0);
  return out;
}

/** Batch `b`: `BATCH` consecutive entities (mod ENTITIES), one unique event each. */
function batches(b: number, acceptedAt: number): { agg: OnlineWriteBatch; lww: OnlineWriteBatch } {
  const keys: string[] = [];
  const records: Uint8Array[] = [];
  const rows: Buffer[] = [];
  for (let i = 0; i < BATCH; i++) {
    const n = b * BATCH + i;
    keys.push(`{c:${n % ENTITIES}}`);
    const ts = acceptedAt - 50 * MINUTE + (n % (45 * MINUTE));
    records.push(encodeEventRecord(layout, ts, fp(n), [(n % 997) / 4]));
    rows.push(row(ts));
  }
  const agg: OnlineWriteBatch = {
    field: 'agg.1',
    ttlMillis: 0,
    keys,
    rows,
    events: {
      plan,
      generation: 1,
      acceptedAtMillis: acceptedAt,
      latenessMillis: 7 * DAY_MILLIS,
      retentionMillis: 30 * DAY_MILLIS + 7 * DAY_MILLIS + DAY_MILLIS,
      entities: keys.map((_, i) => i),
      records,
    },
  };
  return { agg, lww: { field: 'plain.1', ttlMillis: 0, keys, rows } };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-agg-write-lmdb-'));
  const store = new LmdbOnlineStore({ path: join(dir, 'online'), sweepIntervalMillis: 0 });
  const bareRows = store.openDatabase<Buffer, string>('bare');
  const totals = { agg: 0, lww: 0, bare: 0, aggCpu: 0, lwwCpu: 0 };
  try {
    for (let b = -10; b < BATCHES; b++) {
      const { agg, lww } = batches(b + 10, Date.now());
      const order = b % 2 === 0 ? (['agg', 'lww'] as const) : (['lww', 'agg'] as const);
      for (const which of order) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const r = await store.write(which === 'agg' ? agg : lww);
        const t1 = performance.now();
        const c1 = process.cpuUsage(c0);
        if (r.duplicateEvents !== undefined && r.duplicateEvents !== 0) throw new Error('unexpected duplicates');
        if (b < 0) continue;
        totals[which] += t1 - t0;
        totals[which === 'agg' ? 'aggCpu' : 'lwwCpu'] += (c1.user + c1.system) / 1000;
      }
      // Bare puts: as many entries as an aggregated batch writes for its rows (row, 2 tile lists, 3 dedup-ish).
      const t2 = performance.now();
      store.transaction(() => {
        for (let i = 0; i < BATCH * 6; i++)
          bareRows.putSync(`{c:${(b * BATCH + i) % ENTITIES}}\u0000f${i % 6}`, row(i));
      });
      if (b >= 0) totals.bare += performance.now() - t2;
    }
    const rows = BATCH * BATCHES;
    const result = {
      entities: ENTITIES,
      batchRows: BATCH,
      batches: BATCHES,
      aggRowsPerSecond: Math.round(rows / (totals.agg / 1000)),
      plainRowsPerSecond: Math.round(rows / (totals.lww / 1000)),
      ratio: Number((totals.lww / totals.agg).toFixed(3)),
      aggMillisPerBatch: Number((totals.agg / BATCHES).toFixed(2)),
      plainMillisPerBatch: Number((totals.lww / BATCHES).toFixed(2)),
      aggCpuMillisPerBatch: Number((totals.aggCpu / BATCHES).toFixed(2)),
      plainCpuMillisPerBatch: Number((totals.lwwCpu / BATCHES).toFixed(2)),
      barePutsMillisPerBatch: Number((totals.bare / BATCHES).toFixed(2)),
    };
    console.log(JSON.stringify(result));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
