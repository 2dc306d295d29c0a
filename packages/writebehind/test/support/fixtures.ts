import { encodeRow, entityKey, viewField } from '@tessera/core';
import type { FeatureDef, OfflineBatch, RegisteredView } from '@tessera/core';
import { qualifiedName, tableName, type ClickHouseExecutor } from '@tessera/offline';
import type { FindView, OnlineWrite } from '../../src/index.js';

export function doubleFeature(name: string): FeatureDef {
  return {
    name,
    type: 'double',
    dimension: 0,
    constraints: { notNull: false, allowNaN: true },
    description: '',
    tags: {},
  };
}

/** A view keyed by `user_id` with one double feature `score`. */
export function scoreView(name: string, id: number): RegisteredView {
  return {
    name,
    entities: ['user'],
    features: [doubleFeature('score')],
    ttlSeconds: 0,
    owner: 'tests',
    tags: {},
    description: '',
    id,
    version: 1,
    joinKeys: [{ name: 'user_id', type: 'int64' }],
    createdAtMillis: 0,
    updatedAtMillis: 0,
  };
}

export function finder(views: readonly RegisteredView[]): FindView {
  return (name, version) => Promise.resolve(views.find((v) => v.name === name && v.version === version));
}

/** Rows `first … first+count-1`: user i, event at i seconds, score i. */
export function rows(first: number, count: number): OfflineBatch {
  const ids = Array.from({ length: count }, (_, i) => first + i);
  return {
    joinKeyValues: ids.map((i) => [BigInt(i)]),
    eventTsMillis: Float64Array.from(ids, (i) => 1_700_000_000_000 + i * 1000),
    featureValues: [ids.map((i) => i)],
  };
}

/** The online half of writing `batch` to a score view. */
export function onlineOf(v: RegisteredView, batch: OfflineBatch): OnlineWrite {
  return {
    batch: {
      field: viewField(v.id, v.version),
      ttlMillis: 0,
      keys: batch.joinKeyValues.map((keys) => entityKey(v.entities, keys)),
      rows: [...batch.eventTsMillis].map((ts, i) => encodeRow(['double'], ts, [batch.featureValues[0]?.[i] ?? null])),
    },
  };
}

/** Rows in the view's offline table and how many (user, event) pairs are there more than once. */
export async function offlineCounts(
  executor: ClickHouseExecutor,
  database: string,
  v: RegisteredView,
): Promise<{ rows: number; duplicates: number }> {
  const [result] = await executor.queryJson<{ rows: string; duplicates: string }>(
    `SELECT toString(sum(n)) AS rows, toString(countIf(n > 1)) AS duplicates FROM ` +
      `(SELECT user_id, event_ts, count() AS n FROM ${qualifiedName(database, tableName(v))} GROUP BY user_id, event_ts)`,
  );
  return { rows: Number(result?.rows ?? 0), duplicates: Number(result?.duplicates ?? 0) };
}
