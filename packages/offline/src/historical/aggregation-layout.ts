/**
 * The layout of requested window aggregations in the historical query (query.ts): per view, the
 * IR columns appended to the output and the join of their subquery (aggregation-sql.ts), and the
 * training set's columns once finalised (aggregation-finalize.ts).
 */
import { TesseraError, toAggregationSpec, type ResolvedFeatures, type ValueType } from '@tessera/core';
import { aggregationIrs, aggregationJoinClause, type AggregationSource } from './aggregation-sql.js';
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
 * The requested aggregations of one view: their IR columns appended to the output (through
 * `next`), and the join of their subquery (aggregation-sql.ts).
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
): { positions: number[]; join: (rows: string, extra?: readonly string[]) => string } {
  const view = rv.view;
  const specs = rv.aggregationIndexes.map((index) => {
    const agg = view.aggregations?.[index];
    if (agg === undefined) throw new TesseraError('INTERNAL', `view ${view.name} has no aggregation #${index}`);
    if (agg.groupBy !== '') {
      throw new TesseraError(
        'UNIMPLEMENTED',
        `${view.name}:${agg.name} is grouped by ${agg.groupBy}; GetHistorical does not serve grouped aggregations yet`,
      );
    }
    return { agg, spec: toAggregationSpec(agg, view.features) };
  });
  const source: AggregationSource = { database, view, specs: specs.map((s) => s.spec), keys };
  const compiled = aggregationIrs(source);
  const alias = `a${slot}`;
  const positions: number[] = [];
  compiled.irs.forEach((ir, i) => {
    const { agg, spec } = specs[i]!;
    const types = irTypes(spec);
    ir.irs.forEach((column, part) => {
      const type = types[part] ?? 'int64';
      const index = next(`${alias}.${column.alias}`);
      positions.push(index);
      // Lists: a constant "has a value" flag (an unmatched row's empty list is the empty window).
      const flag = type.endsWith('_list') ? next('toUInt8(0)') : undefined;
      if (flag !== undefined) positions.push(flag);
      const name = names[rv.featureIndexes.length + i] ?? agg.name;
      columns.push({
        name: `${name}\u0000${part}`,
        type,
        index,
        ...(flag === undefined ? {} : { nullFlagIndex: flag }),
        final: { kind: 'aggregation', name, type: agg.type, spec, part },
      });
    });
  });
  return {
    positions,
    join: (rows, extra = []) => aggregationJoinClause(source, compiled, alias, entityAlias, rows, extra),
  };
}
