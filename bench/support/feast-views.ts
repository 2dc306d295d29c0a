// The views of the Feast comparison (bench/feast.ts) as Tessera holds them, shared by the parent and
// its chDB child: names, key and features as bench/feast/feast_bench.py defines them for Feast.
import type { RegisteredView } from '@tessera/core';
import { doubleViews } from './historical-dataset.js';

export const FEAST_DATABASE = 'bench_feast';
export const FEAST_ENTITY = 'entity';
export const FEAST_JOIN_KEY = 'entity_id';

export interface FeastShape {
  readonly views: number;
  readonly features: number;
  readonly ttlDays: number;
}

/** The views Feast defines (fv_0 …), as Tessera's registry would hold them. */
export function feastViews(shape: FeastShape): RegisteredView[] {
  return doubleViews(
    Array.from({ length: shape.views }, (_, i) => `fv_${i}`),
    {
      entity: FEAST_ENTITY,
      joinKey: FEAST_JOIN_KEY,
      features: shape.features,
      ttlSeconds: shape.ttlDays * 86_400,
      description: 'Feast comparison view',
    },
  );
}

/** The same views as a feature repository file, for `client.apply`. */
export function feastViewsYaml(shape: FeastShape): string {
  const lines = [
    'project: bench_feast',
    'entities:',
    `  - { name: ${FEAST_ENTITY}, join_keys: [{ name: ${FEAST_JOIN_KEY}, type: int64 }] }`,
    'feature_views:',
  ];
  for (let i = 0; i < shape.views; i += 1) {
    lines.push(`  - name: fv_${i}`, `    entities: [${FEAST_ENTITY}]`, `    ttl: ${shape.ttlDays}d`, '    features:');
    for (let f = 0; f < shape.features; f += 1) lines.push(`      - { name: f${f}, type: double }`);
  }
  return lines.join('\n') + '\n';
}
