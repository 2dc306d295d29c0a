/**
 * The correctness oracle of GetHistorical: a brute-force, obviously-correct TypeScript
 * implementation of the point-in-time semantics. It shares no code with the SQL path.
 *
 * For each entity row and each view: the view's rows with the same join keys and
 * event_ts <= ts (and, with a TTL, event_ts >= ts - ttl); the latest event_ts among them, and
 * among rows with that event_ts the latest created_ts; none → every feature is null.
 */
import type { FeatureValue, JoinKeyValue } from '@tessera/core';

export interface OracleFeatureRow {
  /** Join key values in the view's join key order. */
  readonly keys: readonly JoinKeyValue[];
  readonly eventTsMillis: number;
  readonly createdTsMicros: bigint;
  /** One value per feature of the view (storage order). */
  readonly values: readonly FeatureValue[];
}

export interface OracleView {
  readonly name: string;
  readonly joinKeys: readonly string[];
  readonly ttlSeconds: number;
  readonly featureNames: readonly string[];
  readonly rows: readonly OracleFeatureRow[];
}

export interface OracleEntityRow {
  readonly keys: ReadonlyMap<string, JoinKeyValue>;
  readonly eventTsMillis: number;
}

/** The expected feature values of each entity row: per row, per view, per feature. */
export function oracleHistorical(entities: readonly OracleEntityRow[], views: readonly OracleView[]): FeatureValue[][] {
  return entities.map((entity) => {
    const out: FeatureValue[] = [];
    for (const view of views) {
      let best: OracleFeatureRow | undefined;
      for (const row of view.rows) {
        let same = true;
        view.joinKeys.forEach((key, i) => {
          if (entity.keys.get(key) !== row.keys[i]) same = false;
        });
        if (!same) continue;
        if (row.eventTsMillis > entity.eventTsMillis) continue;
        if (view.ttlSeconds > 0 && row.eventTsMillis < entity.eventTsMillis - view.ttlSeconds * 1000) continue;
        if (
          best === undefined ||
          row.eventTsMillis > best.eventTsMillis ||
          (row.eventTsMillis === best.eventTsMillis && row.createdTsMicros > best.createdTsMicros)
        ) {
          best = row;
        }
      }
      for (let f = 0; f < view.featureNames.length; f += 1)
        out.push(best === undefined ? null : (best.values[f] ?? null));
    }
    return out;
  });
}

/** A comparable form of a value: -0 vs 0 distinguished, NaN equal to NaN, arrays by content. */
export function comparable(value: FeatureValue | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Object.is(value, -0) ? 'n:-0' : `n:${String(value)}`;
  if (typeof value === 'bigint') return `i:${value}`;
  if (typeof value === 'boolean' || typeof value === 'string') return value;
  if (value instanceof Float32Array) return ['f32', ...Array.from(value, (v) => comparable(v))];
  if (value instanceof Float64Array) return ['f64', ...Array.from(value, (v) => comparable(v))];
  if (value instanceof BigInt64Array) return ['i64', ...Array.from(value, (v) => `i:${v}`)];
  if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('hex')}`;
  return ['s', ...value];
}
