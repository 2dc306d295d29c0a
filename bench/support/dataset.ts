import { formatProblems, parseRepository } from '@tessera/core';
import type { Definitions, FeatureValue, ValueType } from '@tessera/core';
import { toColumn, type TesseraClient } from '@tessera/client';
import { WriteTarget, type Column } from '@tessera/proto';

/** Every view is keyed by this entity; one int64 join key. */
export const ENTITY = 'customer';
export const JOIN_KEY = 'customer_id';
/** Seed of the generated values (and, offset, of request batches): the same data every run. */
export const RANDOM_SEED = 20_261_122;
/** First customer id; ids run from here, one per entity of the population. */
const FIRST_ID = 1_000_000;

/**
 * Feature types in a repeating group of ten, like a typical scoring view: mostly doubles, a few
 * counts, a category and a flag. A view of 50 features is this group five times.
 */
const TYPE_PATTERN: readonly ValueType[] = [
  'double',
  'double',
  'double',
  'double',
  'double',
  'double',
  'int64',
  'int64',
  'string',
  'bool',
];
const SEGMENTS = ['new', 'regular', 'vip'] as const;

/** Name of the view holding `features` features. */
export function viewName(features: number): string {
  return `bench_f${features}`;
}

/** Name of feature `f` of any view. */
export function featureName(f: number): string {
  return `f${String(f).padStart(2, '0')}`;
}

export function featureType(f: number): ValueType {
  return TYPE_PATTERN[f % TYPE_PATTERN.length] as ValueType;
}

/** A project with one view per feature count; 30-day TTL, so the server checks expiry as in production. */
export function benchDefinitions(featureCounts: readonly number[]): Definitions {
  const views = featureCounts.map((count) => {
    const features = Array.from(
      { length: count },
      (_, f) => `      - { name: ${featureName(f)}, type: ${featureType(f)} }`,
    );
    return [`  - name: ${viewName(count)}`, `    entities: [${ENTITY}]`, '    ttl: 30d', '    features:', ...features];
  });
  const text = [
    'project: bench',
    'entities:',
    `  - { name: ${ENTITY}, join_keys: [{ name: ${JOIN_KEY}, type: int64 }] }`,
    'feature_views:',
    ...views.flat(),
    '',
  ].join('\n');
  const { definitions, problems } = parseRepository([{ path: 'bench.yaml', text }]);
  if (!definitions || problems.length > 0) throw new Error(formatProblems(problems));
  return definitions;
}

/** A small seeded PRNG (mulberry32), so every run reads the same entities in the same order. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The ids of a population of `size` entities. */
export function populationIds(size: number): bigint[] {
  return Array.from({ length: size }, (_, i) => BigInt(FIRST_ID + i));
}

/** Column-wise values of every feature for every entity: `values[f][row]`. */
export function featureValues(features: number, rows: number, random: () => number): FeatureValue[][] {
  return Array.from({ length: features }, (_, f) => {
    const type = featureType(f);
    return Array.from({ length: rows }, (): FeatureValue => {
      switch (type) {
        case 'int64':
          return BigInt(Math.floor(random() * 1_000_000));
        case 'string':
          return SEGMENTS[Math.floor(random() * SEGMENTS.length)] as string;
        case 'bool':
          return random() < 0.5;
        default:
          return random() * 1_000;
      }
    });
  });
}

/** `count` batches of `size` distinct ids drawn from `ids` (partial Fisher–Yates per batch). */
export function requestBatches(ids: readonly bigint[], size: number, count: number, random: () => number): bigint[][] {
  const pool = [...ids];
  return Array.from({ length: count }, () => {
    for (let j = 0; j < size; j++) {
      const pick = j + Math.floor(random() * (pool.length - j));
      [pool[j], pool[pick]] = [pool[pick] as bigint, pool[j] as bigint];
    }
    return pool.slice(0, size);
  });
}

export interface WrittenView {
  readonly features: number;
  readonly values: ReturnType<typeof featureValues>;
}

/** Writes every id of the population to each view (online only), checking every row applied. */
export async function writeViews(
  client: TesseraClient,
  ids: readonly bigint[],
  featureCounts: readonly number[],
  writeBatchRows: number,
): Promise<Map<number, WrittenView>> {
  const written = new Map<number, WrittenView>();
  const eventMillis = Date.now() - 3_600_000;
  for (const features of featureCounts) {
    const values = featureValues(features, ids.length, seededRandom(RANDOM_SEED + features));
    for (let start = 0; start < ids.length; start += writeBatchRows) {
      const end = Math.min(start + writeBatchRows, ids.length);
      const columns: Record<string, Column> = { [JOIN_KEY]: toColumn('int64', ids.slice(start, end)) };
      values.forEach((column, f) => {
        columns[featureName(f)] = toColumn(featureType(f), column.slice(start, end));
      });
      const result = await client.write({
        featureView: viewName(features),
        target: WriteTarget.WRITE_TARGET_ONLINE,
        columns,
        eventTimestamps: toColumn('timestamp', new Array<number>(end - start).fill(eventMillis)),
      });
      if (result.rowsAppliedOnline !== BigInt(end - start)) {
        throw new Error(`write to ${viewName(features)} applied ${result.rowsAppliedOnline} of ${end - start} rows`);
      }
    }
    written.set(features, { features, values });
  }
  return written;
}
