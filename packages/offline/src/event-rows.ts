/**
 * The deduplicated eligible events of an event view, per key-hash part — what a tile rebuild folds
 * (design §3.6 step 2, §4.4). `GROUP BY keys, event_ts, fp` (never `FINAL` plus a filter on a
 * non-key column): copies of one fp agree on every feature, so `any()` picks the event's values,
 * and `HAVING max(online_gen) < before` keeps the events none of whose copies entered the target
 * generation. Ordered by (keys, event_ts, fp): one entity's events arrive together.
 */
import { TesseraError, type EventRowsRange, type RegisteredView } from '@tessera/core';
import type { QueryParams } from './executor.js';
import {
  EVENT_TS_COLUMN,
  FP_COLUMN,
  IS_NULL_SUFFIX,
  ONLINE_GEN_COLUMN,
  isListType,
  qualifiedName,
  quoteIdentifier,
  tableName,
} from './ddl.js';

/** The SQL of {@link OfflineStore.eventRows}: keys, ts (ms), features, then the fp as hex text (a cast of
 * FixedString to String drops trailing zero bytes). */
export function eventRowsQuery(
  database: string,
  view: RegisteredView,
  range: EventRowsRange,
): { sql: string; params: QueryParams } {
  if (view.kind !== 'events') {
    throw new TesseraError('INVALID_ARGUMENT', `rebuild ${view.name}@${view.version}: not an event view`);
  }
  const keys = view.joinKeys.map((key) => quoteIdentifier(key.name));
  const features: string[] = [];
  for (const feature of view.features) {
    features.push(`any(${quoteIdentifier(feature.name)})`);
    if (isListType(feature.type)) features.push(`any(${quoteIdentifier(`${feature.name}${IS_NULL_SUFFIX}`)})`);
  }
  const ts = quoteIdentifier(EVENT_TS_COLUMN);
  const fp = quoteIdentifier(FP_COLUMN);
  const columns = [...keys, `toUnixTimestamp64Milli(${ts})`, ...features, `CAST(hex(${fp}), 'Nullable(String)')`];
  const params: Record<string, bigint | number> = { before: range.beforeGeneration };
  let where = '';
  if (range.part !== undefined) {
    where = ` WHERE cityHash64(${keys.join(', ')}) % {parts:UInt32} = {part:UInt32}`;
    params['parts'] = range.part.count;
    params['part'] = range.part.index;
  }
  const group = [...keys, ts, fp].join(', ');
  const sql =
    `SELECT ${columns.join(', ')} FROM ${qualifiedName(database, tableName(view))}${where} ` +
    `GROUP BY ${group} HAVING max(${quoteIdentifier(ONLINE_GEN_COLUMN)}) < {before:UInt32} ORDER BY ${group}`;
  return { sql, params };
}
