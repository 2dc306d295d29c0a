/**
 * Finalisation of window aggregations on GetHistorical output (design §4.2, §1.7): the IR
 * columns the query streams (aggregation-sql.ts) become served values through core's finalize
 * functions, the ones the online read uses: `emptyWindowValue` decides every empty window (a NULL
 * IR: no event of the entity in range, from `join_use_nulls`), `finalizeMean` the mean, and
 * `hllEstimateFromHistogram` the distinct count from the registers' histogram.
 */
import {
  TesseraError,
  emptyWindowValue,
  finalizeMean,
  hllEstimateFromHistogram,
  type AggregationSpec,
  type FeatureValue,
  type TypedColumn,
  type ValueType,
} from '@tessera/core';

/** The value types of the IR columns of `spec`, in the order aggregation-sql.ts emits them. */
export function irTypes(spec: AggregationSpec): ValueType[] {
  const input = spec.input?.type;
  // Timestamps travel as Int64 milliseconds.
  const scalar: ValueType = input === undefined || input === 'timestamp' ? 'int64' : input;
  switch (spec.function) {
    case 'count':
    case 'first_ts':
    case 'last_ts':
      return ['int64'];
    case 'sum':
    case 'min':
    case 'max':
    case 'last':
      return [scalar];
    case 'mean':
      return [scalar, 'int64'];
    case 'last_n':
      return [input === 'double' ? 'double_list' : input === 'string' ? 'string_list' : 'int64_list'];
    case 'approx_distinct':
      return ['double_list'];
  }
}

/** One column of the training set: a column of the query as is, or an aggregation from its IRs. */
export type FinalColumn =
  | { readonly kind: 'plain'; readonly source: number }
  | {
      readonly kind: 'aggregation';
      readonly name: string;
      readonly type: ValueType;
      readonly spec: AggregationSpec;
      /** Positions of its IR columns among the query's output columns. */
      readonly sources: readonly number[];
    };

function asTimestamp(value: FeatureValue): FeatureValue {
  return typeof value === 'bigint' ? Number(value) : value;
}

/** The served value of `spec` from one row's IR values. */
export function finalizeAggregation(spec: AggregationSpec, irs: readonly FeatureValue[]): FeatureValue {
  const first = irs[0] ?? null;
  if (first === null) return emptyWindowValue(spec);
  switch (spec.function) {
    case 'count':
    case 'sum':
      return first;
    case 'mean':
      return finalizeMean(first as number | bigint, Number(irs[1] ?? 0));
    case 'min':
    case 'max':
    case 'last':
      return spec.input?.type === 'timestamp' ? asTimestamp(first) : first;
    case 'first_ts':
    case 'last_ts':
      return asTimestamp(first);
    case 'last_n':
      return first;
    case 'approx_distinct': {
      // The registers' histogram (aggregation-sql.ts); empty: no event of the entity in range.
      const histogram = first as Float64Array;
      if (histogram.length === 0) return emptyWindowValue(spec);
      return BigInt(hllEstimateFromHistogram(histogram));
    }
  }
}

/** The training-set columns of one decoded chunk of the query's output columns. */
export function finalizeColumns(
  columns: readonly TypedColumn[],
  finals: readonly FinalColumn[],
  rowCount: number,
): TypedColumn[] {
  return finals.map((final): TypedColumn => {
    if (final.kind === 'plain') {
      const column = columns[final.source];
      if (column === undefined) throw new TesseraError('INTERNAL', `historical: no output column ${final.source}`);
      return column;
    }
    const irs = final.sources.map((s) => columns[s]?.values ?? []);
    const values = new Array<FeatureValue>(rowCount);
    const row: FeatureValue[] = new Array<FeatureValue>(irs.length);
    for (let i = 0; i < rowCount; i += 1) {
      for (let k = 0; k < irs.length; k += 1) row[k] = irs[k]?.[i] ?? null;
      values[i] = finalizeAggregation(final.spec, row);
    }
    return { name: final.name, type: final.type, values };
  });
}
