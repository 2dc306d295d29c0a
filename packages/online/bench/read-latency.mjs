// Micro-benchmark of the online store's own read cost: N entities × 1 field (a 400-byte packed
// row), p50/p99 over many reads. Run after `tsc -b packages/online`:
//   TESSERA_BENCH_REDIS_NODES=127.0.0.1:7001,127.0.0.1:7002 node packages/online/bench/read-latency.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbOnlineStore, RedisClusterOnlineStore } from '../dist/index.js';

const ROW_BYTES = 400;
const ITERATIONS = 2_000;
const WARMUP = 200;

function packRow(eventTs) {
  const row = Buffer.alloc(ROW_BYTES, 7);
  row.writeUInt8(1, 0);
  row.writeDoubleLE(eventTs, 1);
  return row;
}

async function measure(store, entities) {
  const keys = Array.from({ length: entities }, (_, i) => `{bench:${i}}`);
  await store.write({ field: 'b.1', ttlMillis: 0, keys, rows: keys.map(() => packRow(Date.now())) });
  const lookups = keys.map((key) => ({ key, fields: ['b.1'] }));
  const samples = [];
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    const started = process.hrtime.bigint();
    await store.read(lookups);
    if (i >= WARMUP) samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))].toFixed(3);
  return `${entities} entities × 1 field: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`;
}

const nodes = (process.env.TESSERA_BENCH_REDIS_NODES ?? '')
  .split(',')
  .filter(Boolean)
  .map((address) => ({ host: address.split(':')[0], port: Number(address.split(':')[1]) }));
if (nodes.length > 0) {
  const redis = new RedisClusterOnlineStore({ nodes, keyPrefix: `bench:${process.pid}:` });
  for (const n of [100, 1_000]) console.log(`redis-cluster ${await measure(redis, n)}`);
  await redis.close();
}
const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-lmdb-'));
const lmdb = new LmdbOnlineStore({ path: dir, sweepIntervalMillis: 0 });
for (const n of [100, 1_000]) console.log(`lmdb ${await measure(lmdb, n)}`);
await lmdb.close();
rmSync(dir, { recursive: true, force: true });
