import type { ServerWritableStream } from '@grpc/grpc-js';
import { TesseraError, keyValueProblem, showName } from '@tessera/core';
import type {
  EntityRowsInput,
  HistoricalChunk,
  JoinKeyValue,
  OfflineStore,
  ResolvedFeatures,
  TypedColumn,
} from '@tessera/core';
import { columnRowCount, columnValueType, fromColumn, toColumn } from '@tessera/wire';
import { HistoricalFormat } from '@tessera/proto';
import type { Column, GetHistoricalRequest, GetHistoricalResponse } from '@tessera/proto';
import { callDeadlineMillis } from './deadline.js';
import { toGrpcStatus } from './grpc-status.js';
import type { Lanes } from './lanes.js';
import { withRefreshOnMiss, type RegistryAccess } from './registry-access.js';
import { checkRequestColumns, evaluateChunk } from './on-demand-historical.js';
import { splitOnDemand } from './on-demand-plan.js';
import type { TesseraMetrics } from '@tessera/telemetry';

/** Rows per chunk when the request names none. */
const DEFAULT_CHUNK_ROWS = 65_536;
const MAX_CHUNK_ROWS = 1_048_576;

export interface HistoricalLimits {
  /** Most inline entity rows one request may carry (larger sets go through entity_sql). */
  readonly maxEntityRows: number;
  /** Most rows an entity SELECT or a view entity set may produce; the offline store's default unless given. */
  readonly maxEntitySetRows?: number;
  /** The lane GetHistorical calls take a slot of; unbounded without one. */
  readonly lanes?: Pick<Lanes, 'historical'>;
}

/**
 * Streams a training set: entity rows in, chunks of rows (input columns, then one column per
 * feature) out. A failure ends the stream with an error status, never with a short success.
 */
export function streamHistorical(
  call: ServerWritableStream<GetHistoricalRequest, GetHistoricalResponse>,
  registry: RegistryAccess,
  offline: OfflineStore | undefined,
  limits: HistoricalLimits,
  metrics?: TesseraMetrics,
): void {
  const abort = new AbortController();
  call.on('cancelled', () => abort.abort());
  let release = (): void => undefined;
  const run = async (): Promise<void> => {
    if (!offline) throw new TesseraError('UNAVAILABLE', 'GetHistorical: this server runs without an offline store');
    if (limits.lanes !== undefined) release = limits.lanes.historical.enter();
    const request = call.request;
    if (request.features.length === 0 && request.featureService === '') {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        'GetHistorical: name features (refs such as customer_stats:loyalty_score) or a feature_service',
      );
    }
    const requested = await withRefreshOnMiss(registry, () =>
      registry.resolve(request.features, request.featureService),
    );
    const format = request.format === HistoricalFormat.HISTORICAL_FORMAT_ARROW ? 'arrow' : 'columns';
    // On-demand features: read their inputs too, evaluate per chunk (on-demand-historical.ts).
    const split = splitOnDemand(registry.state(), requested);
    const features = split?.stored ?? requested;
    const chunkRows = request.chunkRows === 0 ? DEFAULT_CHUNK_ROWS : Math.min(request.chunkRows, MAX_CHUNK_ROWS);
    const deadlineMillis = callDeadlineMillis(call);
    const entities = entityRowsInput(request, limits, features, registry);
    if (split !== undefined && entities.kind === 'rows')
      checkRequestColumns(split, entities.passthrough, 'passthrough columns');
    const chunks = offline.historical({
      entities,
      ...(limits.maxEntitySetRows === undefined ? {} : { maxEntityRows: limits.maxEntitySetRows }),
      features,
      chunkRows,
      // On-demand features are computed on columns, then encoded (typedColumnsToArrow).
      format: split === undefined ? format : 'columns',
      signal: abort.signal,
      ...(deadlineMillis === undefined ? {} : { deadlineMillis }),
    });
    for await (const stored of chunks) {
      const chunk = split === undefined ? stored : evaluateChunk(split, stored, metrics, format);
      if (!call.write(toResponse(chunk))) await new Promise<void>((resolve) => call.once('drain', resolve));
      if (abort.signal.aborted) return;
    }
    call.end();
  };
  run()
    .catch((error: unknown) => {
      abort.abort();
      call.emit('error', toGrpcStatus(error));
    })
    .finally(() => release());
}

function toResponse(chunk: HistoricalChunk): GetHistoricalResponse {
  return {
    firstRow: BigInt(chunk.firstRow),
    rowCount: chunk.rowCount,
    names: (chunk.columns ?? []).map((c) => c.name),
    columns: (chunk.columns ?? []).map((c): Column => toColumn(c.type, c.values)),
    arrowIpc: chunk.arrowIpc
      ? Buffer.from(chunk.arrowIpc.buffer, chunk.arrowIpc.byteOffset, chunk.arrowIpc.byteLength)
      : Buffer.alloc(0),
  };
}

/** Most passthrough columns of inline entity rows: each becomes a column of the request's entity table. */
export const MAX_PASSTHROUGH_COLUMNS = 256;

/**
 * Reads the request's entity rows: inline columns (checked for shape here: lengths, nulls, types,
 * key sizes, and no key column the features do not use), a view's entities, or a SELECT.
 */
function entityRowsInput(
  request: GetHistoricalRequest,
  limits: HistoricalLimits,
  features: ResolvedFeatures,
  registry: RegistryAccess,
): EntityRowsInput {
  const entities = request.entities;
  if (entities === undefined) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      'GetHistorical: give entity rows (rows), a view entity set (view_entities), a registered entity source (entity_source) or a ClickHouse SELECT (entity_sql)',
    );
  }
  if (entities.$case === 'entitySql') {
    if (entities.value.trim() === '') throw new TesseraError('INVALID_ARGUMENT', 'GetHistorical: entity_sql is empty');
    return { kind: 'sql', sql: entities.value };
  }
  if (entities.$case === 'entitySource') {
    // Parameters are parsed by their declared types and bound by the offline store (never spliced).
    return {
      kind: 'source',
      source: registry.entitySource(entities.value.name),
      params: new Map(Object.entries(entities.value.params)),
    };
  }
  if (entities.$case === 'viewEntities') {
    const spec = entities.value;
    if (spec.featureView === '') {
      throw new TesseraError('INVALID_ARGUMENT', 'GetHistorical: view_entities.feature_view is empty');
    }
    // Checked by the offline store (range, hop, keys); int64 beyond 2^53 fail its safe-integer check.
    return {
      kind: 'view',
      view: registry.view(spec.featureView),
      startMillis: Number(spec.startTime),
      endMillis: Number(spec.endTime),
      hopMillis: Number(spec.hopMillis),
    };
  }
  const rows = entities.value;
  const count = rows.eventTimestamps.length;
  if (count > limits.maxEntityRows) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `GetHistorical: ${count} inline entity rows exceed the limit of ${limits.maxEntityRows}; build larger sets in ClickHouse with view_entities`,
    );
  }
  const passthroughCount = Object.keys(rows.passthrough).length;
  if (passthroughCount > MAX_PASSTHROUGH_COLUMNS) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `GetHistorical: ${passthroughCount} passthrough columns exceed the limit of ${MAX_PASSTHROUGH_COLUMNS} (MAX_PASSTHROUGH_COLUMNS)`,
    );
  }
  const needed = new Set(features.views.flatMap((v) => v.view.joinKeys.map((k) => k.name)));
  const unknown = Object.keys(rows.keys).filter((name) => !needed.has(name));
  if (unknown.length > 0) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `GetHistorical: unknown join key column${unknown.length === 1 ? '' : 's'} ${unknown.slice(0, 5).map(showName).join(', ')}; ` +
        `the requested features use ${[...needed].join(', ')} (carry other columns as passthrough)`,
    );
  }
  const keys = new Map<string, JoinKeyValue[]>();
  for (const [name, column] of Object.entries(rows.keys)) {
    checkLength(name, column, count);
    const type = columnValueType(column);
    if (type !== 'int64' && type !== 'string') {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `GetHistorical: join key column ${name} must hold int64 or string values, got ${type ?? 'no values'}`,
      );
    }
    if (column.nullRows.length > 0) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `GetHistorical: row ${column.nullRows[0]}, column ${name}: join keys cannot be null`,
      );
    }
    const values = readColumn(name, column) as JoinKeyValue[];
    values.forEach((value, row) => {
      const problem = keyValueProblem(value);
      if (problem !== undefined)
        throw new TesseraError('INVALID_ARGUMENT', `GetHistorical: row ${row}, column ${name}: ${problem}`);
    });
    keys.set(name, values);
  }
  const passthrough: TypedColumn[] = Object.entries(rows.passthrough).map(([name, column]) => {
    checkLength(name, column, count);
    const type = columnValueType(column);
    if (type === undefined)
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `GetHistorical: passthrough column ${showName(name)} has no values set`,
      );
    return { name, type, values: readColumn(name, column) };
  });
  return { kind: 'rows', keys, eventTsMillis: rows.eventTimestamps.map(Number), passthrough };
}

/** A column's values; a malformed column (null rows or list lengths that do not fit) is refused, naming it. */
function readColumn(name: string, column: Column): ReturnType<typeof fromColumn> {
  try {
    return fromColumn(column);
  } catch (error) {
    throw new TesseraError('INVALID_ARGUMENT', `GetHistorical: column ${showName(name)}: ${(error as Error).message}`);
  }
}

function checkLength(name: string, column: Column, count: number): void {
  const n = columnRowCount(column);
  if (n !== count) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `GetHistorical: column ${showName(name)} has ${n} rows but there are ${count} event timestamps`,
    );
  }
}
