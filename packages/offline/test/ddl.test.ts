import { describe, expect, it } from 'vitest';
import { isTesseraError } from '@tessera/core';
import {
  addColumnsSql,
  columnsOf,
  createDatabaseSql,
  createTableSql,
  localTableName,
  tableName,
  type OfflineColumn,
} from '../src/index.js';
import { feature, registeredView } from './support/views.js';

const view = registeredView(
  'customer_stats',
  [
    { name: 'customer_id', type: 'int64' },
    { name: 'region', type: 'string' },
  ],
  [feature('spend_30d', 'double'), feature('embedding', 'float_list'), feature('segment', 'string')],
  3,
);

function codeOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return isTesseraError(error) ? error.code : error;
  }
  return undefined;
}

describe('offline DDL', () => {
  it('names a view version table fv_<view>__v<version>', () => {
    expect(tableName(view)).toBe('fv_customer_stats__v3');
    expect(localTableName(view)).toBe('fv_customer_stats__v3_local');
  });

  it('creates one ReplacingMergeTree table per view version, as the layout says', () => {
    expect(createTableSql(view, { database: 'tessera' })).toEqual([
      [
        'CREATE TABLE IF NOT EXISTS `tessera`.`fv_customer_stats__v3`',
        '(',
        '  `customer_id` Int64,',
        '  `region` String,',
        "  `event_ts` DateTime64(3, 'UTC'),",
        "  `created_ts` DateTime64(6, 'UTC'),",
        '  `spend_30d` Nullable(Float64),',
        '  `embedding` Array(Float32),',
        '  `embedding__is_null` UInt8 DEFAULT 1,',
        '  `segment` Nullable(String)',
        ')',
        'ENGINE = ReplacingMergeTree(`created_ts`)',
        'PARTITION BY toYYYYMM(`event_ts`)',
        'ORDER BY (`customer_id`, `region`, `event_ts`)',
        'SETTINGS non_replicated_deduplication_window = 1000',
      ].join('\n'),
    ]);
  });

  it('gives an event view fp and online_gen, orders it by (keys, event_ts, fp), and a __excluded side table with reason', () => {
    const events = {
      ...registeredView('clicks', [{ name: 'customer_id', type: 'int64' }], [feature('page', 'string')]),
      kind: 'events' as const,
    };
    const [main, excluded, ...rest] = createTableSql(events, { database: 'tessera' });
    expect(rest).toEqual([]);
    expect(main).toBe(
      [
        'CREATE TABLE IF NOT EXISTS `tessera`.`fv_clicks__v1`',
        '(',
        '  `customer_id` Int64,',
        "  `event_ts` DateTime64(3, 'UTC'),",
        "  `created_ts` DateTime64(6, 'UTC'),",
        '  `fp` FixedString(16),',
        '  `online_gen` UInt32,',
        '  `page` Nullable(String)',
        ')',
        'ENGINE = ReplacingMergeTree(`created_ts`)',
        'PARTITION BY toYYYYMM(`event_ts`)',
        'ORDER BY (`customer_id`, `event_ts`, `fp`)',
        'SETTINGS non_replicated_deduplication_window = 1000',
      ].join('\n'),
    );
    expect(excluded).toContain('CREATE TABLE IF NOT EXISTS `tessera`.`fv_clicks__v1__excluded`\n(');
    expect(excluded).toContain("  `page` Nullable(String),\n  `reason` Enum8('late' = 1, 'future' = 2)\n)");
    expect(excluded).toContain('ORDER BY (`customer_id`, `event_ts`, `fp`)');
    // Cluster mode: a local and a Distributed table for each.
    const cluster = createTableSql(events, { database: 'tessera', cluster: { name: 'c' } });
    expect(cluster.map((sql) => /`tessera`\.`(\w+)`/.exec(sql)?.[1])).toEqual([
      'fv_clicks__v1_local',
      'fv_clicks__v1',
      'fv_clicks__v1__excluded_local',
      'fv_clicks__v1__excluded',
    ]);
    expect(cluster[2]).toContain("'/clickhouse/tables/{shard}/tessera/fv_clicks__v1__excluded_local'");
    // A plain view is untouched by any of this.
    expect(createTableSql({ ...events, kind: 'state' }, { database: 'tessera' })).toHaveLength(1);
  });

  it('maps every feature type to its ClickHouse column(s)', () => {
    const all = registeredView(
      'all',
      [{ name: 'k', type: 'string' }],
      [
        feature('a', 'int64'),
        feature('b', 'double'),
        feature('c', 'string'),
        feature('d', 'bool'),
        feature('e', 'timestamp'),
        feature('f', 'bytes'),
        feature('g', 'float_list'),
        feature('h', 'double_list'),
        feature('i', 'int64_list'),
        feature('j', 'string_list'),
      ],
    );
    const types = Object.fromEntries(columnsOf(all).map((c) => [c.name, c.type]));
    expect(types).toEqual({
      k: 'String',
      event_ts: "DateTime64(3, 'UTC')",
      created_ts: "DateTime64(6, 'UTC')",
      a: 'Nullable(Int64)',
      b: 'Nullable(Float64)',
      c: 'Nullable(String)',
      d: 'Nullable(Bool)',
      e: "Nullable(DateTime64(3, 'UTC'))",
      f: 'Nullable(String)',
      g: 'Array(Float32)',
      g__is_null: 'UInt8',
      h: 'Array(Float64)',
      h__is_null: 'UInt8',
      i: 'Array(Int64)',
      i__is_null: 'UInt8',
      j: 'Array(String)',
      j__is_null: 'UInt8',
    });
  });

  it('in cluster mode, creates replicated shard-local tables and a Distributed table sharded by the join-key hash', () => {
    const [local, distributed, ...rest] = createTableSql(view, { database: 'tessera', cluster: { name: 'prod-1' } });
    expect(rest).toEqual([]);
    expect(local).toContain(
      'CREATE TABLE IF NOT EXISTS `tessera`.`fv_customer_stats__v3_local` ON CLUSTER `prod-1`\n(',
    );
    expect(local).toContain(
      "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tessera/fv_customer_stats__v3_local', '{replica}', `created_ts`)",
    );
    expect(local).toContain('PARTITION BY toYYYYMM(`event_ts`)\nORDER BY (`customer_id`, `region`, `event_ts`)');
    // Replicated tables deduplicate inserts by themselves.
    expect(local).not.toContain('non_replicated_deduplication_window');
    expect(distributed).toContain(
      'CREATE TABLE IF NOT EXISTS `tessera`.`fv_customer_stats__v3` ON CLUSTER `prod-1`\n(',
    );
    expect(distributed).toContain(
      'ENGINE = Distributed(`prod-1`, `tessera`, `fv_customer_stats__v3_local`, sipHash64(`customer_id`, `region`))',
    );
    // Same columns on both.
    const columnsPart = (sql: string | undefined): string =>
      sql?.slice(sql.indexOf('('), sql.indexOf(')\nENGINE')) ?? '';
    expect(columnsPart(distributed)).toBe(columnsPart(local));
    expect(createDatabaseSql({ database: 'tessera', cluster: { name: 'prod-1' } })).toBe(
      'CREATE DATABASE IF NOT EXISTS `tessera` ON CLUSTER `prod-1`',
    );
  });

  it('takes the Keeper path prefix and replica macro from the cluster options', () => {
    const [local] = createTableSql(view, {
      database: 'tessera',
      cluster: { name: 'c', zooKeeperPathPrefix: '/ch/{layer}-{shard}', replicaName: '{replica}-x' },
    });
    expect(local).toContain(
      "ReplicatedReplacingMergeTree('/ch/{layer}-{shard}/tessera/fv_customer_stats__v3_local', '{replica}-x'",
    );
  });

  it('adds missing columns with ADD COLUMN IF NOT EXISTS, on local then Distributed tables in cluster mode', () => {
    const missing: OfflineColumn[] = columnsOf(view).filter((c) => c.name.startsWith('embedding'));
    expect(addColumnsSql(view, missing, { database: 'tessera' })).toEqual([
      'ALTER TABLE `tessera`.`fv_customer_stats__v3`\n' +
        '  ADD COLUMN IF NOT EXISTS `embedding` Array(Float32),\n' +
        '  ADD COLUMN IF NOT EXISTS `embedding__is_null` UInt8 DEFAULT 1',
    ]);
    const cluster = addColumnsSql(view, missing, { database: 'tessera', cluster: { name: 'c' } });
    expect(cluster.map((sql) => sql.split('\n')[0])).toEqual([
      'ALTER TABLE `tessera`.`fv_customer_stats__v3_local` ON CLUSTER `c`',
      'ALTER TABLE `tessera`.`fv_customer_stats__v3` ON CLUSTER `c`',
    ]);
    expect(addColumnsSql(view, [], { database: 'tessera' })).toEqual([]);
  });

  it('refuses identifiers outside the registry rule with INTERNAL', () => {
    const keys = [{ name: 'id', type: 'int64' as const }];
    for (const bad of ['Customer', 'a-b', 'x`y', "x'y", 'a b', '1abc', '', 'a'.repeat(64), 'é']) {
      expect(codeOf(() => createTableSql(registeredView(bad, keys, []), { database: 'tessera' }))).toBe('INTERNAL');
      expect(
        codeOf(() => createTableSql(registeredView('v', [{ name: bad, type: 'int64' }], []), { database: 'tessera' })),
      ).toBe('INTERNAL');
      expect(
        codeOf(() => createTableSql(registeredView('v', keys, [feature(bad, 'double')]), { database: 'tessera' })),
      ).toBe('INTERNAL');
      expect(codeOf(() => createTableSql(registeredView('v', keys, []), { database: bad }))).toBe('INTERNAL');
    }
    expect(
      codeOf(() => createTableSql(registeredView('v', keys, []), { database: 'd', cluster: { name: 'a`b' } })),
    ).toBe('INTERNAL');
    expect(codeOf(() => tableName({ name: 'v', version: 0 }))).toBe('INTERNAL');
    expect(codeOf(() => tableName({ name: 'v', version: 1.5 }))).toBe('INTERNAL');
  });

  it("refuses a view whose columns clash (a feature named like another list feature's null flag)", () => {
    const clash = registeredView(
      'v',
      [{ name: 'id', type: 'int64' }],
      [feature('e', 'float_list'), feature('e__is_null', 'bool')],
    );
    expect(codeOf(() => columnsOf(clash))).toBe('INTERNAL');
  });
});
