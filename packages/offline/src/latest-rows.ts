/**
 * The latest row of each entity with an event in a time range — what materialization copies to the
 * online store. `FINAL` resolves duplicate (keys, event_ts) rows to the latest `created_ts`; `LIMIT 1
 * BY` keeps each entity's latest event. Values travel as parameters; identifiers come from the
 * registry only.
 */
import { TesseraError, type LatestRowsRange, type RegisteredView } from '@tessera/core';
import type { QueryParams } from './executor.js';
import { EVENT_TS_COLUMN, IS_NULL_SUFFIX, isListType, plainRowsSource, quoteIdentifier } from './ddl.js';

export function latestRowsQuery(
  database: string,
  view: RegisteredView,
  range: LatestRowsRange,
): { sql: string; params: QueryParams } {
  if (!(range.startMillis < range.endMillis)) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `materialize ${view.name}@${view.version}: the range start (${range.startMillis}) must be before its end (${range.endMillis})`,
    );
  }
  const keys = view.joinKeys.map((key) => quoteIdentifier(key.name));
  const features: string[] = [];
  for (const feature of view.features) {
    features.push(quoteIdentifier(feature.name));
    if (isListType(feature.type)) features.push(quoteIdentifier(`${feature.name}${IS_NULL_SUFFIX}`));
  }
  const columns = [...keys, `toUnixTimestamp64Milli(${quoteIdentifier(EVENT_TS_COLUMN)})`, ...features];
  // An event view: its excluded events too (they are the plain row's history like any other).
  const source = plainRowsSource(database, view, [...keys, quoteIdentifier(EVENT_TS_COLUMN), ...features], true);
  const conditions = [
    `${quoteIdentifier(EVENT_TS_COLUMN)} >= fromUnixTimestamp64Milli({start:Int64}, 'UTC')`,
    `${quoteIdentifier(EVENT_TS_COLUMN)} < fromUnixTimestamp64Milli({end:Int64}, 'UTC')`,
  ];
  const params: Record<string, bigint | number> = {
    start: BigInt(Math.floor(range.startMillis)),
    end: BigInt(Math.ceil(range.endMillis)),
  };
  if (range.part !== undefined) {
    conditions.push(`cityHash64(${keys.join(', ')}) % {parts:UInt32} = {part:UInt32}`);
    params['parts'] = range.part.count;
    params['part'] = range.part.index;
  }
  const sql =
    `SELECT ${columns.join(', ')} FROM ${source} ` +
    `WHERE ${conditions.join(' AND ')} ` +
    `ORDER BY ${keys.join(', ')}, ${quoteIdentifier(EVENT_TS_COLUMN)} DESC LIMIT 1 BY ${keys.join(', ')}`;
  return { sql, params };
}
