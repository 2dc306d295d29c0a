/**
 * Offline insert throughput on chDB: one batch of ROWS rows × 10 doubles (default 1M), encoded
 * as TabSeparated and inserted as one insert. Prints encode and insert time separately.
 * Run after `npm run build`: `node packages/offline/bench/insert-throughput.mjs [rows]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeOfflineBatch, insertOfflineBatch, nowMicros, openEmbeddedOfflineStore } from '../dist/index.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const featureCount = 10;
const features = Array.from({ length: featureCount }, (_, i) => ({
  name: `f${i}`,
  type: 'double',
  dimension: 0,
  constraints: { notNull: false, allowNaN: false },
  description: '',
  tags: {},
}));
const view = {
  name: 'bench',
  entities: ['customer'],
  features,
  ttlSeconds: 0,
  owner: '',
  tags: {},
  description: '',
  id: 1,
  version: 1,
  joinKeys: [{ name: 'customer_id', type: 'int64' }],
  createdAtMillis: 0,
  updatedAtMillis: 0,
};

const start = Date.UTC(2024, 0, 1);
const batch = {
  joinKeyValues: Array.from({ length: rows }, (_, i) => [BigInt(i % 100_000)]),
  eventTsMillis: Float64Array.from({ length: rows }, (_, i) => start + i * 1_000),
  featureValues: features.map(() => Array.from({ length: rows }, () => Math.random() * 1000)),
};

const dataDir = mkdtempSync(join(tmpdir(), 'tessera-offline-bench-'));
const store = await openEmbeddedOfflineStore(dataDir, { database: 'bench' });
try {
  await store.ensureTables([view]);
  let t = performance.now();
  const encoded = encodeOfflineBatch(view, batch, nowMicros());
  const encodeMillis = performance.now() - t;
  t = performance.now();
  await store.executor.insertRaw('bench.fv_bench__v1', encoded.payload, {
    format: 'TabSeparated',
    columns: encoded.columns,
  });
  const insertMillis = performance.now() - t;
  t = performance.now();
  await insertOfflineBatch(store.executor, 'bench', view, batch, { dedupToken: 'bench-2' });
  const totalMillis = performance.now() - t;
  const [count] = await store.executor.queryJson('SELECT count() AS n FROM bench.fv_bench__v1');
  const mb = encoded.payload.byteLength / 1e6;
  console.log(
    JSON.stringify({
      rows,
      features: featureCount,
      payloadMB: Number(mb.toFixed(1)),
      encodeMillis: Math.round(encodeMillis),
      chdbInsertMillis: Math.round(insertMillis),
      endToEndMillis: Math.round(totalMillis),
      rowsPerSecondEndToEnd: Math.round(rows / (totalMillis / 1000)),
      rowsInTable: Number(count?.n),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
} finally {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
}
