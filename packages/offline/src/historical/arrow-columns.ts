/**
 * Typed columns to one Arrow IPC stream with the types the historical query's Arrow output uses
 * (arrow.ts): for training-set chunks computed in Node after the query (on-demand features).
 */
import { Field, RecordBatch, Schema, Struct, Table, makeData, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { FeatureValue, TypedColumn } from '@tessera/core';
import { emptyType } from './arrow.js';

/** Timestamps as ms numbers, lists as plain arrays (what vectorFromArray builds from). */
function arrowValues(column: TypedColumn): unknown[] {
  return column.values.map((v: FeatureValue) => {
    if (v === null) return null;
    if (ArrayBuffer.isView(v) && column.type !== 'bytes') return Array.from(v as unknown as ArrayLike<unknown>);
    return v;
  });
}

/** One Arrow IPC stream of `rows` rows holding `columns` (nullable fields, in order). */
export function typedColumnsToArrow(columns: readonly TypedColumn[], rows: number): Uint8Array {
  const vectors = columns.map((c) => vectorFromArray(arrowValues(c), emptyType(c.type)));
  const schema = new Schema(columns.map((c, i) => new Field(c.name, vectors[i]!.type, true)));
  const data = makeData({
    type: new Struct(schema.fields),
    length: rows,
    nullCount: 0,
    children: vectors.map((v) => v.data[0]!),
  });
  return tableToIPC(new Table(schema, new RecordBatch(schema, data)), 'stream');
}
