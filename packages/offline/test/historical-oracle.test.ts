/**
 * GetHistorical against the brute-force oracle (test/support/oracle.ts), on real chDB.
 *
 * Each fast-check run builds one dataset out of many independent sub-cases (keys namespaced by
 * sub-case, so one chDB round trip checks them all): three views with different join keys
 * (int64, string, composite) and random TTLs (0 included); feature rows on a coarse time grid so
 * that entity timestamps often equal event timestamps; duplicate (keys, event_ts) rows written
 * with different created_ts, in any order (late and out-of-order events); entity rows before
 * the first event, beyond the TTL, for entities with no rows; nulls in every type; embeddings.
 * Each dataset runs one of the plans (hash, full_sorting_merge, key ranges of 3–40 rows).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeatureValue, JoinKeyValue, RegisteredView } from '@tessera/core';
import {
  comparable,
  oracleHistorical,
  type OracleEntityRow,
  type OracleFeatureRow,
  type OracleView,
} from './support/oracle.js';
import type { HistoricalOptions } from '../src/historical/run.js';
import {
  collect,
  concatColumns,
  createTables,
  feature,
  insertRows,
  openEngine,
  resolvedAll,
  truncate,
  view,
  type Engine,
} from './support/oracle-harness.js';

const BASE = Date.UTC(2025, 0, 1);
const NUM_RUNS = Number(process.env.ORACLE_RUNS ?? 80);

const nullable = <T extends FeatureValue>(arb: fc.Arbitrary<T>): fc.Arbitrary<FeatureValue> =>
  fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: arb });
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 5 }),
  fc.constantFrom('', '\t', '\n', '\\', "'", '\\N', 'NULL', 'é🌍'),
);
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const VALUE: Record<string, fc.Arbitrary<FeatureValue>> = {
  int64: nullable(int64),
  double: nullable(fc.double()),
  string: nullable(text),
  bool: nullable(fc.boolean()),
  timestamp: nullable(fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2299, 11, 31) })),
  bytes: nullable(fc.uint8Array({ maxLength: 6 })),
  float_list: nullable(fc.array(fc.float(), { minLength: 3, maxLength: 3 }).map((a) => Float32Array.from(a))),
  double_list: nullable(fc.array(fc.double(), { maxLength: 3 }).map((a) => Float64Array.from(a))),
  string_list: nullable(fc.array(text, { maxLength: 3 })),
};

function views(ttls: readonly number[]): RegisteredView[] {
  return [
    view(
      'o_user',
      [{ name: 'user_id', type: 'int64' }],
      [
        feature('a_i', 'int64'),
        feature('a_d', 'double'),
        feature('a_s', 'string'),
        feature('a_emb', 'float_list'),
        feature('a_b', 'bool'),
      ],
      ttls[0],
    ),
    view(
      'o_merchant',
      [{ name: 'merchant', type: 'string' }],
      [feature('b_d', 'double'), feature('b_t', 'timestamp'), feature('b_sl', 'string_list')],
      ttls[1],
    ),
    view(
      'o_pair',
      [
        { name: 'user_id', type: 'int64' },
        { name: 'merchant', type: 'string' },
      ],
      [feature('c_i', 'int64'), feature('c_dl', 'double_list'), feature('c_bytes', 'bytes')],
      ttls[2],
    ),
  ];
}

const SHAPES = views([0, 0, 0]);

/** A time on a coarse grid (seconds, sometimes +500 ms). */
const tick = (min: number, max: number): fc.Arbitrary<number> =>
  fc.tuple(fc.integer({ min, max }), fc.constantFrom(0, 0, 0, 500)).map(([t, sub]) => BASE + t * 1000 + sub);

const rowArb = (
  shape: RegisteredView,
): fc.Arbitrary<{ u: number; m: number; ts: number; gen: number; values: FeatureValue[] }> =>
  fc.record({
    u: fc.integer({ min: 0, max: 2 }),
    m: fc.integer({ min: 0, max: 2 }),
    ts: tick(0, 20),
    gen: fc.integer({ min: 1, max: 4 }),
    values: fc.tuple(...shape.features.map((f) => VALUE[f.type] as fc.Arbitrary<FeatureValue>)),
  });

const subCaseArb = fc.record({
  rows: fc.tuple(...SHAPES.map((shape) => fc.array(rowArb(shape), { maxLength: 8 }))),
  entities: fc.array(
    fc.record({ u: fc.integer({ min: 0, max: 3 }), m: fc.integer({ min: 0, max: 3 }), ts: tick(-2, 26) }),
    { minLength: 1, maxLength: 6 },
  ),
  merchantStyle: fc.constantFrom('plain', '\t', "'", 'é'),
});

const datasetArb = fc.record({
  ttls: fc.tuple(fc.constantFrom(0, 2, 5), fc.constantFrom(0, 3), fc.constantFrom(0, 1, 4)),
  cases: fc.array(subCaseArb, { minLength: 5, maxLength: 25 }),
  chunkRows: fc.integer({ min: 1, max: 64 }),
  // Every plan must give the oracle's answer; key ranges with parts of a few entity rows, so
  // that part edges fall between equal keys, inside composite keys and on each group's own key.
  options: fc.oneof(
    fc.constant<HistoricalOptions>({}),
    fc.constant<HistoricalOptions>({ plan: 'full_sorting_merge' }),
    fc.integer({ min: 3, max: 40 }).map((partRows): HistoricalOptions => ({ plan: 'key_ranges', partRows })),
  ),
});

describe('GetHistorical against the oracle', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await openEngine('hist_oracle');
    await createTables(engine, SHAPES);
  });
  afterAll(() => engine.close());

  it('equals the brute-force oracle row by row', async () => {
    let subCases = 0;
    let entityRows = 0;
    await fc.assert(
      fc.asyncProperty(datasetArb, async ({ ttls, cases, chunkRows, options }) => {
        const vs = views(ttls);
        await truncate(engine, vs);
        const userOf = (c: number, u: number): bigint => BigInt(c) * 1_000_003n - 7n + BigInt(u);
        const merchantOf = (c: number, m: number, style: string): string => `${c}|${style}${m}`;
        const oracleViews: OracleView[] = vs.map((v) => ({
          name: v.name,
          joinKeys: v.joinKeys.map((k) => k.name),
          ttlSeconds: v.ttlSeconds,
          featureNames: v.features.map((f) => f.name),
          rows: [],
        }));
        const entities: OracleEntityRow[] = [];
        cases.forEach((sub, c) => {
          sub.rows.forEach((rows, slot) => {
            const v = vs[slot] as RegisteredView;
            const seen = new Set<string>();
            for (const row of rows) {
              const keys: JoinKeyValue[] = v.joinKeys.map((k) =>
                k.name === 'user_id' ? userOf(c, row.u) : merchantOf(c, row.m, sub.merchantStyle),
              );
              // Ties in created_ts for one (keys, event_ts) have no defined winner: keep them apart.
              const id = `${keys.join('\u0000')}\u0000${row.ts}\u0000${row.gen}`;
              if (seen.has(id)) continue;
              seen.add(id);
              (oracleViews[slot]?.rows as OracleFeatureRow[]).push({
                keys,
                eventTsMillis: row.ts,
                createdTsMicros: 1_700_000_000_000_000n + BigInt(row.gen),
                values: row.values,
              });
            }
          });
          for (const e of sub.entities) {
            entities.push({
              keys: new Map<string, JoinKeyValue>([
                ['user_id', userOf(c, e.u)],
                ['merchant', merchantOf(c, e.m, sub.merchantStyle)],
              ]),
              eventTsMillis: e.ts,
            });
          }
        });
        for (const [slot, v] of vs.entries()) await insertRows(engine, v, oracleViews[slot]?.rows ?? []);

        const labels = entities.map((_, i) => (i % 7 === 0 ? null : i / 3));
        const chunks = await collect(
          engine,
          {
            entities: {
              kind: 'rows',
              keys: new Map([
                ['user_id', entities.map((e) => e.keys.get('user_id') as JoinKeyValue)],
                ['merchant', entities.map((e) => e.keys.get('merchant') as JoinKeyValue)],
              ]),
              eventTsMillis: entities.map((e) => e.eventTsMillis),
              passthrough: [{ name: 'label', type: 'double', values: labels }],
            },
            features: resolvedAll(vs),
            chunkRows,
            format: 'columns',
          },
          options,
        );
        // Chunks: consecutive, exactly chunkRows each but the last.
        let next = 0;
        chunks.forEach((chunk, i) => {
          expect(chunk.firstRow).toBe(next);
          if (i < chunks.length - 1) expect(chunk.rowCount).toBe(chunkRows);
          next += chunk.rowCount;
        });
        expect(next).toBe(entities.length);

        const columns = concatColumns(chunks);
        const featureNames = vs.flatMap((v) => v.features.map((f) => `${v.name}__${f.name}`));
        expect(columns.map((c) => c.name)).toEqual(['user_id', 'merchant', 'event_ts', 'label', ...featureNames]);
        const expected = oracleHistorical(entities, oracleViews);
        entities.forEach((entity, row) => {
          const actualRow = columns.map((c) => comparable(c.values[row]));
          const expectedRow = [
            comparable(entity.keys.get('user_id') ?? null),
            comparable(entity.keys.get('merchant') ?? null),
            comparable(entity.eventTsMillis),
            comparable(labels[row] ?? null),
            ...(expected[row] ?? []).map(comparable),
          ];
          if (JSON.stringify(actualRow) !== JSON.stringify(expectedRow)) {
            expect({ row, actual: actualRow }).toEqual({ row, actual: expectedRow });
          }
        });
        subCases += cases.length;
        entityRows += entities.length;
      }),
      { numRuns: NUM_RUNS },
    );
    console.log(`oracle: ${NUM_RUNS} datasets, ${subCases} sub-cases, ${entityRows} entity rows × 3 views compared`);
  }, 240_000);
});
