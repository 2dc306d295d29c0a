/**
 * A training-set request and its chunks on the wire. The resolved features travel as their view
 * versions (checked again by the offline server) and indexes into them; chunks in Arrow format
 * carry the very IPC bytes the store produced, so a training set read over the hop is the same
 * bytes as one read directly.
 */
import {
  TesseraError,
  type EntityRowsInput,
  type HistoricalChunk,
  type HistoricalRequest,
  type JoinKeyValue,
  type ResolvedFeatures,
  type TypedColumn,
} from '@tessera/core';
import type {
  HistoricalChunk as WireChunk,
  HistoricalRequest as WireRequest,
  NamedColumn,
  OfflineEntityRows,
} from '@tessera/proto';
import { columnRowCount, columnValueType, fromColumn, toColumn, toProtoEntitySource } from '@tessera/wire';
import { fromWireEntitySource, fromWireView, toWireView } from './views.js';

/** The wire form of `request` (its signal and deadline go with the call, not the message). */
export function toWireHistorical(request: HistoricalRequest): WireRequest {
  const { features } = request;
  return {
    entities: wireEntities(request.entities),
    views: features.views.map((rv) => ({
      view: toWireView(rv.view),
      featureIndexes: [...rv.featureIndexes],
      refs: [...rv.refs],
      aggregationIndexes: [...rv.aggregationIndexes],
    })),
    features: features.features.map((f) => ({
      viewSlot: f.viewSlot,
      featureIndex: f.aggregationIndex === undefined ? f.featureIndex : 0,
      ref: f.ref,
      name: f.name,
      ...(f.aggregationIndex === undefined ? {} : { aggregationIndex: f.aggregationIndex }),
    })),
    registrySequence: BigInt(features.sequence),
    chunkRows: request.chunkRows,
    arrow: request.format === 'arrow',
    maxEntityRows: BigInt(request.maxEntityRows ?? 0),
  };
}

function wireEntities(entities: EntityRowsInput): WireRequest['entities'] {
  switch (entities.kind) {
    case 'rows':
      return {
        $case: 'rows',
        value: {
          keys: [...entities.keys].map(([name, values]) => ({
            name,
            column: toColumn(typeof values[0] === 'bigint' ? 'int64' : 'string', values),
          })),
          eventTsMillis: [...entities.eventTsMillis],
          passthrough: entities.passthrough.map((c) => ({ name: c.name, column: toColumn(c.type, c.values) })),
        },
      };
    case 'sql':
      return { $case: 'entitySql', value: entities.sql };
    case 'source':
      return {
        $case: 'entitySource',
        value: { source: toProtoEntitySource(entities.source), params: Object.fromEntries(entities.params) },
      };
    case 'view':
      return {
        $case: 'viewEntities',
        value: {
          view: toWireView(entities.view),
          startMillis: entities.startMillis,
          endMillis: entities.endMillis,
          hopMillis: entities.hopMillis,
        },
      };
  }
}

/** The request a wire message asks for, every view and index checked (INVALID_ARGUMENT otherwise). */
export function fromWireHistorical(
  wire: WireRequest,
): Omit<HistoricalRequest, 'signal' | 'deadlineMillis' | 'maxEntityRows'> & { maxEntityRows?: number } {
  const views = wire.views.map((rv, slot) => {
    const view = fromWireView(rv.view, `Historical.views[${slot}]`);
    for (const index of rv.featureIndexes) {
      if (index >= view.features.length) {
        throw new TesseraError('INVALID_ARGUMENT', `Historical.views[${slot}]: ${view.name} has no feature #${index}`);
      }
    }
    for (const index of rv.aggregationIndexes) {
      if (index >= (view.aggregations?.length ?? 0)) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `Historical.views[${slot}]: ${view.name} has no aggregation #${index}`,
        );
      }
    }
    return {
      view,
      field: '',
      featureIndexes: [...rv.featureIndexes],
      refs: [...rv.refs],
      aggregationIndexes: [...rv.aggregationIndexes],
    };
  });
  const features: ResolvedFeatures = {
    sequence: Number(wire.registrySequence),
    views,
    features: wire.features.map((f, i) => {
      if (f.aggregationIndex !== undefined) {
        const aggregation = views[f.viewSlot]?.view.aggregations?.[f.aggregationIndex];
        if (aggregation === undefined) {
          throw new TesseraError(
            'INVALID_ARGUMENT',
            `Historical.features[${i}]: no aggregation #${f.aggregationIndex} in view slot ${f.viewSlot}`,
          );
        }
        const { viewSlot, aggregationIndex, ref, name } = f;
        return { viewSlot, featureIndex: -1, aggregationIndex, ref, name, type: aggregation.type };
      }
      const feature = views[f.viewSlot]?.view.features[f.featureIndex];
      if (feature === undefined) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `Historical.features[${i}]: no feature #${f.featureIndex} in view slot ${f.viewSlot}`,
        );
      }
      return { viewSlot: f.viewSlot, featureIndex: f.featureIndex, ref: f.ref, name: f.name, type: feature.type };
    }),
  };
  const maxEntityRows = Number(wire.maxEntityRows);
  return {
    entities: entitiesOf(wire.entities),
    features,
    chunkRows: wire.chunkRows,
    format: wire.arrow ? 'arrow' : 'columns',
    ...(maxEntityRows > 0 ? { maxEntityRows } : {}),
  };
}

function entitiesOf(entities: WireRequest['entities']): EntityRowsInput {
  switch (entities?.$case) {
    case 'rows':
      return rowsOf(entities.value);
    case 'entitySql':
      return { kind: 'sql', sql: entities.value };
    case 'entitySource':
      return {
        kind: 'source',
        source: fromWireEntitySource(entities.value.source, 'Historical.entity_source'),
        params: new Map(Object.entries(entities.value.params)),
      };
    case 'viewEntities': {
      const { view, startMillis, endMillis, hopMillis } = entities.value;
      return {
        kind: 'view',
        view: fromWireView(view, 'Historical.view_entities'),
        startMillis,
        endMillis,
        hopMillis,
      };
    }
    case undefined:
      throw new TesseraError('INVALID_ARGUMENT', 'Historical: no entity rows given');
  }
}

function rowsOf(rows: OfflineEntityRows): EntityRowsInput {
  const count = rows.eventTsMillis.length;
  const keys = new Map<string, JoinKeyValue[]>();
  for (const { name, column } of rows.keys) {
    const typed = typedColumn(name, column, count, 'Historical.rows.keys');
    if (typed.type !== 'int64' && typed.type !== 'string') {
      throw new TesseraError('INVALID_ARGUMENT', `Historical.rows.keys: column ${name} is not int64 or string`);
    }
    keys.set(name, typed.values as JoinKeyValue[]);
  }
  return {
    kind: 'rows',
    keys,
    eventTsMillis: rows.eventTsMillis,
    passthrough: rows.passthrough.map(({ name, column }) =>
      typedColumn(name, column, count, 'Historical.rows.passthrough'),
    ),
  };
}

/** A chunk in wire form. */
export function toWireChunk(chunk: HistoricalChunk): WireChunk {
  return {
    firstRow: BigInt(chunk.firstRow),
    rowCount: chunk.rowCount,
    columns: (chunk.columns ?? []).map((c) => ({ name: c.name, column: toColumn(c.type, c.values) })),
    arrowIpc:
      chunk.arrowIpc === undefined
        ? Buffer.alloc(0)
        : Buffer.from(chunk.arrowIpc.buffer, chunk.arrowIpc.byteOffset, chunk.arrowIpc.byteLength),
  };
}

/** A chunk read from the wire, in the request's format. */
export function fromWireChunk(wire: WireChunk, format: HistoricalRequest['format']): HistoricalChunk {
  const base = { firstRow: Number(wire.firstRow), rowCount: wire.rowCount };
  if (format === 'arrow') {
    const bytes = wire.arrowIpc;
    return { ...base, arrowIpc: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  }
  return {
    ...base,
    columns: wire.columns.map(({ name, column }) => typedColumn(name, column, wire.rowCount, 'Historical chunk')),
  };
}

function typedColumn(name: string, column: NamedColumn['column'], rows: number, label: string): TypedColumn {
  const type = column === undefined ? undefined : columnValueType(column);
  if (column === undefined || type === undefined) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: column ${name} has no values set`);
  }
  const count = columnRowCount(column);
  if (count !== rows)
    throw new TesseraError('INVALID_ARGUMENT', `${label}: column ${name} has ${count} rows, not ${rows}`);
  try {
    return { name, type, values: fromColumn(column) };
  } catch (error) {
    throw new TesseraError('INVALID_ARGUMENT', `${label}: column ${name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
