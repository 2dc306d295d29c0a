/**
 * The layout of requested window aggregations in the historical query (query.ts): per view, the
 * IR columns appended to the output and the join of their subquery (aggregation-sql.ts), and the
 * training set's columns once finalised (aggregation-finalize.ts).
 */
import { TesseraError, toAggregationSpec, type ResolvedFeatures, type ValueType } from '@tessera/core';
import { aggregationIrs, aggregationJoinClause, type AggregationSource } from './aggregation-sql.js';
import { quoteIdentifier } from '../ddl.js';
import type { EntityTable } from './entities.js';
import { irTypes, type FinalColumn } from './aggregation-finalize.js';

/** Output columns of IRs carry the finalisation they feed; the others are the training set's own. */
export interface IrOutputColumn {
  readonly name: string;
  readonly type: ValueType;
  readonly index: number;
  readonly nullFlagIndex?: number;
  readonly final?: Omit<Extract<FinalColumn, { kind: 'aggregation' }>, 'sources'> & { readonly part: number };
}

/** The training set's columns over the query's output columns. */
export function finalColumns(columns: readonly IrOutputColumn[]): FinalColumn[] {
  const finals: FinalColumn[] = [];
  columns.forEach((column, source) => {
    const final = column.final;
    if (final === undefined) finals.push({ kind: 'plain', source });
    else if (final.part === 0) {
      const { part: _part, ...rest } = final;
      finals.push({ ...rest, sources: [source] });
    } else {
      const last = finals[finals.length - 1];
      if (last?.kind === 'aggregation') finals[finals.length - 1] = { ...last, sources: [...last.sources, source] };
    }
  });
  return finals;
}

/**
 * The entity table column carrying the group values of aggregations grouped by `groupBy` (§1.8):
 * the entity rows' column of that name, of the group feature's type.
 */
function groupColumn(
  entities: EntityTable,
  view: ResolvedFeatures['views'][number]['view'],
  aggName: string,
  groupBy: string,
): string {
  const feature = view.features.find((f) => f.name === groupBy);
  if (feature === undefined) throw new TesseraError('INTERNAL', `view ${view.name} has no feature ${groupBy}`);
  const column = entities.columns.find((c) => c.name === groupBy && c.role !== 'event_ts');
  if (column === undefined) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `entity rows lack the column "${groupBy}": ${view.name}:${aggName} is grouped by ${groupBy}, so each row must carry the ${groupBy} whose value it asks for`,
    );
  }
  if (column.type !== feature.type) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `entity column "${groupBy}" is ${column.type}; ${view.name}:${aggName} is grouped by ${groupBy}, a ${feature.type} feature: send ${groupBy} as ${feature.type}`,
    );
  }
  return column.column;
}

/**
 * The requested aggregations of one view: their IR columns appended to the output (through
 * `next`, in request order), and the joins of their subqueries (aggregation-sql.ts): one for the
 * ungrouped aggregations and one per group feature (§4.2: the group column joins too).
 */
export function aggregationView(
  database: string,
  rv: ResolvedFeatures['views'][number],
  slot: number,
  keys: readonly { readonly name: string; readonly column: string }[],
  names: readonly string[],
  next: (expression: string) => number,
  columns: IrOutputColumn[],
  entityAlias: string,
  entities: EntityTable,
): { positions: number[]; join: (rows: string, extra?: readonly string[]) => string } {
  const view = rv.view;
  const specs = rv.aggregationIndexes.map((index) => {
    const agg = view.aggregations?.[index];
    if (agg === undefined) throw new TesseraError('INTERNAL', `view ${view.name} has no aggregation #${index}`);
    return { agg, spec: toAggregationSpec(agg, view.features) };
  });
  // One subquery per group feature ('' = ungrouped), in order of first request.
  const byGroup = new Map<string, { source: AggregationSource; members: number[] }>();
  specs.forEach(({ agg }, i) => {
    let part = byGroup.get(agg.groupBy);
    if (part === undefined) {
      const group =
        agg.groupBy === ''
          ? {}
          : {
              group: {
                name: quoteIdentifier(agg.groupBy),
                column: groupColumn(entities, view, agg.name, agg.groupBy),
              },
            };
      part = { source: { database, view, specs: [], keys, ...group }, members: [] };
      byGroup.set(agg.groupBy, part);
    }
    part.members.push(i);
  });
  const parts = [...byGroup.values()].map(({ source, members }, p) => {
    const full: AggregationSource = { ...source, specs: members.map((i) => specs[i]!.spec) };
    return { source: full, members, compiled: aggregationIrs(full), alias: p === 0 ? `a${slot}` : `a${slot}_${p}` };
  });
  const positions: number[] = [];
  specs.forEach(({ agg, spec }, i) => {
    const part = parts.find((q) => q.members.includes(i))!;
    const ir = part.compiled.irs[part.members.indexOf(i)]!;
    const types = irTypes(spec);
    ir.irs.forEach((column, n) => {
      const type = types[n] ?? 'int64';
      const index = next(`${part.alias}.${column.alias}`);
      positions.push(index);
      // Lists: a constant "has a value" flag (an unmatched row's empty list is the empty window).
      const flag = type.endsWith('_list') ? next('toUInt8(0)') : undefined;
      if (flag !== undefined) positions.push(flag);
      const name = names[rv.featureIndexes.length + i] ?? agg.name;
      columns.push({
        name: `${name}\u0000${n}`,
        type,
        index,
        ...(flag === undefined ? {} : { nullFlagIndex: flag }),
        final: { kind: 'aggregation', name, type: agg.type, spec, part: n },
      });
    });
  });
  return {
    positions,
    join: (rows, extra = []) =>
      parts.map((q) => aggregationJoinClause(q.source, q.compiled, q.alias, entityAlias, rows, extra)).join(' '),
  };
}
