/**
 * GetHistorical with on-demand features: the offline query reads the stored features requested
 * plus the inputs of the on-demand ones (on-demand-plan.ts); each chunk it yields is then turned
 * into the requested columns here, evaluating each on-demand feature per row with the same compiled
 * program as GetOnlineFeatures, `now` = the entity row's timestamp (`event_ts`) and request fields
 * read from the entity rows' columns of the same name.
 */
import { TesseraError, evaluateOnDemandColumn, showName } from '@tessera/core';
import type { HistoricalChunk, TypedColumn } from '@tessera/core';
import { typedColumnsToArrow } from '@tessera/offline';
import type { TesseraMetrics } from '@tessera/telemetry';
import type { SplitFeatures } from './on-demand-plan.js';

/** Checks inline entity rows carry every request field, as a passthrough column of its type. */
export function checkRequestColumns(split: SplitFeatures, columns: readonly TypedColumn[], where: string): void {
  for (const field of split.requestFields) {
    const column = columns.find((c) => c.name === field.name);
    const what = `GetHistorical: request field ${showName(field.name)} (${field.type}, read by an on-demand feature)`;
    if (column === undefined) {
      throw new TesseraError('INVALID_ARGUMENT', `${what} is missing; add it to the ${where}`);
    }
    if (column.type !== field.type) {
      throw new TesseraError('INVALID_ARGUMENT', `${what} is ${column.type} in the ${where}`);
    }
  }
}

/** The requested columns of one chunk: entity columns, then the features in request order. */
export function evaluateChunk(
  split: SplitFeatures,
  chunk: HistoricalChunk,
  metrics: TesseraMetrics | undefined,
  format: 'columns' | 'arrow',
): HistoricalChunk {
  const columns = chunk.columns;
  if (columns === undefined) throw new TesseraError('INTERNAL', 'GetHistorical: on-demand features need columns');
  const views = split.stored.views;
  const inputCount = columns.length - split.stored.features.length;
  const offsets: number[] = [];
  let offset = inputCount;
  // Per view the offline store gives its plain features, then its aggregations (request order each).
  for (const rv of views) {
    offsets.push(offset);
    offset += rv.featureIndexes.length + rv.aggregationIndexes.length;
  }
  const position = (slot: number): number => {
    const f = split.stored.features[slot]!;
    const rv = views[f.viewSlot]!;
    return f.aggregationIndex === undefined
      ? offsets[f.viewSlot]! + rv.featureIndexes.indexOf(f.featureIndex)
      : offsets[f.viewSlot]! + rv.featureIndexes.length + rv.aggregationIndexes.indexOf(f.aggregationIndex);
  };
  const entityColumns = columns.slice(0, inputCount);
  checkRequestColumns(split, entityColumns, 'entity rows');
  const eventTs = entityColumns.find((c) => c.name === 'event_ts');
  if (eventTs === undefined) throw new TesseraError('INTERNAL', 'GetHistorical: the chunk has no event_ts column');
  const times = eventTs.values as readonly number[];
  const names = new Map<string, number>();
  for (const out of split.outputs) {
    if (out.kind !== 'on_demand') continue;
    const name = `${out.compiled.view.name}__${out.compiled.view.features[out.featureIndex]!.name}`;
    names.set(name, (names.get(name) ?? 0) + 1);
  }
  const out: TypedColumn[] = [...entityColumns];
  for (const output of split.outputs) {
    if (output.kind === 'stored') {
      out.push(columns[position(output.slot)]!);
      continue;
    }
    const { compiled, featureIndex } = output;
    const feature = compiled.view.features[featureIndex]!;
    const { values, errors } = evaluateOnDemandColumn(compiled, featureIndex, {
      rows: chunk.rowCount,
      inputs: output.inputSlots.map((slot) => columns[position(slot)]!.values),
      request: compiled.scope.requestFields.map((f) => entityColumns.find((c) => c.name === f.name)!.values),
      nowMillis: (row) => times[row]!,
    });
    metrics?.onDemandErrors(compiled.view.name, feature.name, errors);
    const plain = `${compiled.view.name}__${feature.name}`;
    const name =
      (names.get(plain) ?? 0) > 1 ? `${compiled.view.name}__v${compiled.view.version}__${feature.name}` : plain;
    out.push({ name, type: feature.type, values });
  }
  if (format === 'arrow') {
    return { firstRow: chunk.firstRow, rowCount: chunk.rowCount, arrowIpc: typedColumnsToArrow(out, chunk.rowCount) };
  }
  return { firstRow: chunk.firstRow, rowCount: chunk.rowCount, columns: out };
}
