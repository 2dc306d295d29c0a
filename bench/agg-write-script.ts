// Cost of agg-write-2.lua (design §3.3, §6.4 item 1's Redis half, script only): events/s through
// RedisClusterOnlineStore.write with 3 window aggregations (count 7d/1h, sum 30d/1d, mean 30d/1d)
// at 1, 10 and 100 events per script call, against lww-write-1.lua on the same rows (same keys,
// same batch sizes, interleaved rounds in one run). No server, no offline path: the script alone.
//
//   npx tsx bench/agg-write-script.ts [--entities 500] [--rounds 20] [--redis-cluster host:port,…]
import { parseArgs } from 'node:util';
import {
  DAY_MILLIS,
  HOUR_MILLIS,
  compileAggregationPlan,
  encodeEventRecord,
  eventRecordLayout,
  type OnlineWriteBatch,
} from '@tessera/core';
import { RedisClusterOnlineStore } from '@tessera/online';
import { startRedisCluster, type RedisNodeAddress } from '@tessera/testkit';

const { values } = parseArgs({
  options: {
    entities: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '20' },
    'redis-cluster': { type: 'string' },
  },
});
const ENTITIES = Number(values.entities);
const ROUNDS = Number(values.rounds);

const plan = compileAggregationPlan([
  { function: 'count', input: null, windowMillis: 7 * DAY_MILLIS, hopMillis: HOUR_MILLIS, n: 0, precision: 0 },
  {
    function: 'sum',
    input: { index: 0, type: 'int64' },
    windowMillis: 30 * DAY_MILLIS,
    hopMillis: DAY_MILLIS,
    n: 0,
    precision: 0,
  },
  {
    function: 'mean',
    input: { index: 1, type: 'double' },
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

let fpCounter = 0;
function fp(): Uint8Array {
  const out = Buffer.alloc(16);
  out.writeUInt32BE(fpCounter++, 12);
  out.writeUInt32BE(process.pid, 0);
  return out;
}

function batches(keys: string[], perCall: number, acceptedAt: number, aggField: string, lwwField: string) {
  const records: Uint8Array[] = [];
  const entities: number[] = [];
  keys.forEach((_, k) => {
    for (let e = 0; e < perCall; e++) {
      // Events spread over the last hour (L = 1 h): they land in 1–2 tiles of each hop.
      const ts = acceptedAt - ((k * 7919 + e * 104_729) % HOUR_MILLIS);
      records.push(encodeEventRecord(layout, ts, fp(), [BigInt(k * 1000 + e), (e % 97) * 1.25]));
      entities.push(k);
    }
  });
  const rows = keys.map(() => row(acceptedAt));
  const agg: OnlineWriteBatch = {
    field: aggField,
    ttlMillis: DAY_MILLIS,
    keys,
    rows,
    events: {
      plan,
      generation: 1,
      acceptedAtMillis: acceptedAt,
      latenessMillis: HOUR_MILLIS,
      retentionMillis: 30 * DAY_MILLIS + 2 * DAY_MILLIS + HOUR_MILLIS,
      entities,
      records,
    },
  };
  const lww: OnlineWriteBatch = { field: lwwField, ttlMillis: DAY_MILLIS, keys, rows };
  return { agg, lww, events: records.length };
}

/** CPU seconds (user + sys) used so far by every master: the Redis side of a write, apart from Node's. */
async function mastersCpuSeconds(store: RedisClusterOnlineStore): Promise<number> {
  const infos = await Promise.all(store.cluster.nodes('master').map((node) => node.info('cpu')));
  let total = 0;
  for (const info of infos) {
    for (const name of ['used_cpu_user', 'used_cpu_sys'])
      total += Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  }
  return total;
}

async function main(): Promise<void> {
  let nodes: RedisNodeAddress[];
  let stop = async (): Promise<void> => {};
  if (values['redis-cluster'] !== undefined) {
    nodes = values['redis-cluster'].split(',').map((item) => {
      const [host, port] = item.split(':');
      return { host: host ?? '127.0.0.1', port: Number(port) };
    });
  } else {
    const cluster = await startRedisCluster();
    await cluster.waitForHealthy();
    nodes = [...cluster.nodes];
    stop = () => cluster.stop();
  }
  const store = new RedisClusterOnlineStore({
    nodes,
    keyPrefix: `bench:${process.pid}:`,
    commandTimeoutMillis: 10_000,
  });
  try {
    await store.ping();
    const results: Record<string, unknown>[] = [];
    for (const perCall of [1, 10, 100]) {
      const keys = Array.from({ length: ENTITIES }, (_, i) => `{agg${perCall}:${i}}`);
      let aggMillis = 0;
      let lwwMillis = 0;
      let events = 0;
      let aggCpu = 0;
      let lwwCpu = 0;
      // One warm-up round (script load, tile lists created), then timed rounds, interleaved.
      for (let round = -1; round < ROUNDS; round++) {
        const b = batches(keys, perCall, Date.now(), '1a.1', '1b.1');
        const c0 = await mastersCpuSeconds(store);
        const t0 = performance.now();
        const r = await store.write(b.agg);
        const t1 = performance.now();
        const c1 = await mastersCpuSeconds(store);
        const t2a = performance.now();
        await store.write(b.lww);
        const t2 = performance.now();
        const c2 = await mastersCpuSeconds(store);
        if (r.duplicateEvents !== 0) throw new Error(`unexpected duplicates: ${r.duplicateEvents}`);
        if (round < 0) continue;
        aggMillis += t1 - t0;
        lwwMillis += t2 - t2a;
        aggCpu += c1 - c0;
        lwwCpu += c2 - c1;
        events += b.events;
      }
      const calls = ENTITIES * ROUNDS;
      const row = {
        eventsPerCall: perCall,
        entitiesPerBatch: ENTITIES,
        rounds: ROUNDS,
        aggEventsPerSecond: Math.round(events / (aggMillis / 1000)),
        aggCallsPerSecond: Math.round(calls / (aggMillis / 1000)),
        lwwRowsPerSecond: Math.round(calls / (lwwMillis / 1000)),
        aggOverLwwPerCall: Number((lwwMillis / aggMillis).toFixed(2)),
        // Redis CPU per script call, all masters together (INFO cpu is coarse: read over many calls).
        aggRedisMicrosPerCall: Number(((aggCpu * 1e6) / calls).toFixed(1)),
        lwwRedisMicrosPerCall: Number(((lwwCpu * 1e6) / calls).toFixed(1)),
      };
      results.push(row);
      console.log(JSON.stringify(row));
    }
  } finally {
    await store.close();
    await stop();
  }
}

await main();
