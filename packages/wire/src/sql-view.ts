/**
 * SQL views between core's model and their wire form (registry.proto SqlViewSource, design §5.1).
 * `reads` is the lineage the registry assigns: ignored in Apply, carried by Get/List/History.
 */
import type { FeatureViewDef, Problem, SqlViewDef } from '@tessera/core';
import type { FeatureView, SqlViewSource } from '@tessera/proto';

/** The wire SqlViewSource of a view (undefined for other kinds). */
export function toProtoSqlSource(view: FeatureViewDef): SqlViewSource | undefined {
  const sql = view.sql;
  if (view.kind !== 'sql' || sql === undefined) return undefined;
  return {
    sql: sql.sql,
    everyMillis: BigInt(sql.everyMillis),
    delayMillis: BigInt(sql.delayMillis),
    reads: [...sql.reads],
  };
}

/**
 * The model's SqlViewDef of a wire view of kind SQL (`keepReads`: as the registry assigned them,
 * else empty, as definitions carry none). A missing source is a problem naming the view.
 */
export function fromProtoSqlSource(
  view: FeatureView,
  path: string,
  problems: Problem[],
  keepReads: boolean,
): SqlViewDef | undefined {
  const source = view.sqlSource;
  if (source === undefined) {
    problems.push({
      path: `${path}.sql_source`,
      message: `SQL view ${view.name}: kind VIEW_KIND_SQL needs sql_source`,
    });
    return undefined;
  }
  return {
    sql: source.sql,
    everyMillis: Number(source.everyMillis),
    delayMillis: Number(source.delayMillis),
    reads: keepReads ? [...source.reads] : [],
  };
}
