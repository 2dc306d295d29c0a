// The done-when of issue 17 increment 7 (design §3.6, §4.4): 30 days of events for 100 k entities,
// loaded straight into the offline main table (chDB, the store's own insert with fingerprints, a
// tenth of them replayed), then the online tiles rebuilt into LMDB by `rebuildViewAggregations`
// twice: uninterrupted, and interrupted (aborted after half the parts, plus one part written but
// not recorded, as a kill would leave it) then resumed. Every entity's fields must be byte-identical
// between the two runs; a sample is checked against the brute-force oracle. Reports events/s and
// entities/s of the uninterrupted run.
//   tsx bench/rebuild-aggregations.ts [--entities 100000] [--events-per-entity 10] [--parts 16] [--smoke] [--out DIR]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  aggregationFieldNames,
  aggregationResultType,
  batchFingerprints,
  decodeEventRecord,
  entityKey,
  eventRecordLayout,
  foldEventIntoFields,
  pendingListRecords,
  readAggregations,
  pendingListField,
  rebuildMarkerField,
  viewField,
  type AggregationFields,
  type FeatureValue,
  type RegisteredView,
} from '@tessera/core';
import { ChdbExecutor, ClickHouseOfflineStore } from '@tessera/offline';
import { LmdbMaterializeState, LmdbOnlineStore } from '@tessera/online';
import { rebuildAggregationsPart, rebuildPlanOf, rebuildViewAggregations } from '@tessera/materialize';
import {
  bruteAggregate,
  bruteKeyed,
  type BruteEvent,
  type BruteSpec,
  type BruteType,
} from '../packages/core/test/oracle/brute-force.js';
import { gitState, loadAtStart, machineInfo } from './support/environment.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 10, 20, 12, 0, 0, 0);

const SPECS: readonly (BruteSpec & { name: string })[] = [
  { name: 'n_7d', fn: 'count', input: null, windowMillis: 7 * DAY, hopMillis: HOUR, n: 0, precision: 0 },
  { name: 'n_30d', fn: 'count', input: null, windowMillis: 30 * DAY, hopMillis: DAY, n: 0, precision: 0 },
  { name: 'sum_30d', fn: 'sum', input: 0, windowMillis: 30 * DAY, hopMillis: DAY, n: 0, precision: 0 },
  { name: 'mean_30d', fn: 'mean', input: 0, windowMillis: 30 * DAY, hopMillis: DAY, n: 0, precision: 0 },
  {
    name: 'products_30d',
    fn: 'approx_distinct',
    input: 1,
    windowMillis: 30 * DAY,
    hopMillis: DAY,
    n: 0,
    precision: 12,
  },
  { name: 'last_at', fn: 'last_ts', input: null, windowMillis: 0, hopMillis: 0, n: 0, precision: 0 },
];
const TYPES: readonly BruteType[] = ['int64', 'string'];
const FEATURES = ['amount', 'product'] as const;

const VIEW: RegisteredView = {
  name: 'purchases',
  kind: 'events',
  events: { allowedLatenessMillis: HOUR, futureToleranceMillis: MIN },
  entities: ['customer'],
  joinKeys: [{ name: 'customer_id', type: 'int64' }],
  features: FEATURES.map((name, i) => ({
    name,
    type: TYPES[i] as 'int64' | 'string',
    dimension: 0,
    constraints: { notNull: false, allowNaN: false },
    description: '',
    tags: {},
  })),
  aggregations: SPECS.map((s) => ({
    name: s.name,
    function: s.fn,
    input: s.input === null ? '' : (FEATURES[s.input] as string),
    windowMillis: s.windowMillis,
    hopMillis: s.hopMillis,
    n: s.n,
    precision: s.precision,
    groupBy: '',
    description: '',
    tags: {},
    type: aggregationResultType(s.fn, s.input === null ? undefined : (TYPES[s.input] as 'int64' | 'string')),
    specVersion: 1,
    state: 'ready' as const,
  })),
  ttlSeconds: 0,
  owner: 'bench',
  tags: {},
  description: '',
  id: 1,
  version: 1,
  createdAtMillis: 0,
  updatedAtMillis: 0,
};

function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      entities: { type: 'string' },
      'events-per-entity': { type: 'string' },
      parts: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const entities = Number(values.entities ?? (values.smoke ? 2_000 : 100_000));
  const perEntity = Number(values['events-per-entity'] ?? 10);
  const parts = Number(values.parts ?? 16);
  const load = loadAtStart();
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-rebuild-'));
  try {
    const offline = await ClickHouseOfflineStore.open({
      executor: ChdbExecutor.open({ path: join(dir, 'chdb') }),
      database: 'bench_rebuild',
    });
    await offline.ensureTables([VIEW]);
    const rnd = random(1);
    const sample = new Map<string, BruteEvent[]>();
    let loaded = 0;
    const loadStarted = performance.now();
    const chunk = 10_000;
    for (let first = 0; first < entities; first += chunk) {
      const rows: BruteEvent[] = [];
      for (let c = first; c < Math.min(entities, first + chunk); c++) {
        const n = Math.floor(rnd() * 2 * perEntity);
        for (let i = 0; i < n; i++) {
          rows.push({
            entityKey: String(c),
            ts: NOW - Math.floor(rnd() * 30 * DAY),
            values: [BigInt(Math.floor(rnd() * 1000)), `p${Math.floor(rnd() * 50)}`],
          });
        }
      }
      for (const r of rows)
        if (Number(r.entityKey) % 97 === 0) sample.set(r.entityKey, [...(sample.get(r.entityKey) ?? []), r]);
      const insert = async (batchRows: readonly BruteEvent[]): Promise<void> => {
        const batch = {
          joinKeyValues: batchRows.map((r) => [BigInt(r.entityKey)]),
          eventTsMillis: Float64Array.from(batchRows.map((r) => r.ts)),
          featureValues: FEATURES.map((_, f) => batchRows.map((r) => (r.values[f] ?? null) as FeatureValue)),
        };
        await offline.insert(VIEW, { ...batch, fingerprints: batchFingerprints(VIEW, batch) });
      };
      await insert(rows);
      await insert(rows.filter((_, i) => i % 10 === 0)); // replays: one event by fp
      loaded += rows.length;
    }
    const loadMillis = performance.now() - loadStarted;
    console.error(
      `rebuild bench: ${loaded} events of ${entities} entities loaded in ${(loadMillis / 1000).toFixed(1)} s`,
    );

    const open = (name: string) => {
      const online = new LmdbOnlineStore({ path: join(dir, `online-${name}`), sweepIntervalMillis: 0 });
      return { online, state: new LmdbMaterializeState(online) };
    };
    const a = open('uninterrupted');
    const started = performance.now();
    let last = { eventsRead: 0, entitiesWritten: 0 };
    for await (const p of rebuildViewAggregations({ offline, ...a, view: VIEW, nowMillis: NOW, parts })) last = p;
    const rebuildMillis = performance.now() - started;
    console.error(
      `rebuild bench: uninterrupted ${last.eventsRead} events, ${last.entitiesWritten} entities in ${(rebuildMillis / 1000).toFixed(1)} s`,
    );

    const b = open('interrupted');
    const abort = new AbortController();
    for await (const p of rebuildViewAggregations({
      offline,
      ...b,
      view: VIEW,
      nowMillis: NOW,
      parts,
      signal: abort.signal,
    })) {
      if (p.partsDone === Math.floor(parts / 2)) abort.abort();
    }
    // A kill after the next part was written but before it was recorded.
    for await (const _ of rebuildAggregationsPart({
      offline,
      online: b.online,
      view: VIEW,
      plan: rebuildPlanOf(VIEW),
      generation: 2,
      nowMillis: NOW,
      part: { index: Math.floor(parts / 2), count: parts },
    })) {
      // drain
    }
    const resumeStarted = performance.now();
    let resumed = { entitiesWritten: 0, entitiesSkipped: 0 };
    for await (const p of rebuildViewAggregations({ offline, ...b, view: VIEW, nowMillis: NOW + DAY, parts }))
      resumed = p;
    const resumeMillis = performance.now() - resumeStarted;

    const field = viewField(VIEW.id, VIEW.version);
    const { plan } = rebuildPlanOf(VIEW);
    const names = aggregationFieldNames(plan);
    const fields = [...names.map((n) => `${field}.g2.${n}`), pendingListField(field, 2), rebuildMarkerField(field, 2)];
    let differing = 0;
    const compareStarted = performance.now();
    for (let first = 0; first < entities; first += 1_000) {
      const lookups = [];
      for (let c = first; c < Math.min(entities, first + 1_000); c++)
        lookups.push({ key: entityKey(VIEW.entities, [BigInt(c)]), fields });
      const [ra, rb] = [await a.online.read(lookups), await b.online.read(lookups)];
      for (let i = 0; i < lookups.length; i++) {
        for (let f = 0; f < fields.length; f++) {
          const x = ra[i]?.[f] ?? null;
          const y = rb[i]?.[f] ?? null;
          if ((x === null) !== (y === null) || (x !== null && y !== null && Buffer.compare(x, y) !== 0)) {
            differing++;
            break;
          }
        }
      }
    }
    const compareMillis = performance.now() - compareStarted;

    let oracleMismatches = 0;
    for (const [key, events] of sample) {
      const [row] = await a.online.read([{ key: entityKey(VIEW.entities, [BigInt(key)]), fields }]);
      const state: AggregationFields = new Map();
      names.forEach((n, k) => {
        const bytes = row?.[k];
        if (bytes !== null && bytes !== undefined) state.set(n, bytes.slice());
      });
      const pending = row?.[names.length];
      if (pending !== null && pending !== undefined) {
        for (const r of pendingListRecords(pending)) {
          const { record } = decodeEventRecord(eventRecordLayout(plan), r);
          foldEventIntoFields(plan, state, record.tsMillis, record.fp, record.values);
        }
      }
      const got = readAggregations(plan, state, NOW);
      const keyed = bruteKeyed(VIEW.id, VIEW.version, TYPES, events);
      const want = SPECS.map((s) => bruteAggregate(s, TYPES, keyed, NOW));
      if (JSON.stringify(got, big) !== JSON.stringify(want, big)) oracleMismatches++;
    }
    await a.online.close();
    await b.online.close();
    await offline.close();

    const report = {
      scenario: 'rebuild-aggregations',
      machine: machineInfo(load, {}),
      git: gitState(REPO_ROOT),
      params: { entities, eventsPerEntityMean: perEntity, parts, days: 30, aggregations: SPECS.map((s) => s.name) },
      load: { events: loaded, millis: loadMillis },
      uninterrupted: {
        events: last.eventsRead,
        entities: last.entitiesWritten,
        millis: rebuildMillis,
        eventsPerSecond: last.eventsRead / (rebuildMillis / 1000),
        entitiesPerSecond: last.entitiesWritten / (rebuildMillis / 1000),
      },
      resumed: {
        millis: resumeMillis,
        entitiesWritten: resumed.entitiesWritten,
        entitiesSkipped: resumed.entitiesSkipped,
      },
      compare: { entities, differing, millis: compareMillis },
      oracle: { sampled: sample.size, mismatches: oracleMismatches },
    };
    const outDir = values.out ?? join(REPO_ROOT, 'bench/results');
    await mkdir(outDir, { recursive: true });
    const file = join(outDir, `rebuild-aggregations-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(
      `| entities | events | rebuild | events/s | entities/s | resumed == uninterrupted | oracle sample |\n|---|---|---|---|---|---|---|\n` +
        `| ${entities} | ${last.eventsRead} | ${(rebuildMillis / 1000).toFixed(1)} s | ${Math.round(report.uninterrupted.eventsPerSecond)} | ` +
        `${Math.round(report.uninterrupted.entitiesPerSecond)} | ${differing === 0 ? 'yes' : `NO (${differing} entities differ)`} (every entity, bytes) | ` +
        `${sample.size - oracleMismatches}/${sample.size} equal |`,
    );
    console.log(`\nReport: ${file}`);
    if (differing > 0 || oracleMismatches > 0) throw new Error('the resumed rebuild or the oracle sample differs');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function big(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof BigInt64Array || value instanceof Float64Array)
    return [...value].map((v) => (typeof v === 'bigint' ? `${v}n` : v));
  return value;
}

// Run as a script (`npm run bench -- rebuild`); importing it runs nothing.
if (process.argv[1] === SELF) await main();
