/**
 * Materialization: copy the latest offline value of every entity with an event in a time range to
 * the online store. The online write is last-writer-wins by event time, so a fresher online value is
 * never overwritten. Domain logic between the two store ports: the server runs it in-process
 * (embedded) and the writers run it as queued parts (cluster mode).
 */
import { SpanStatusCode, trace } from '@opentelemetry/api';
import {
  RowEncoder,
  entityKey,
  retentionMillis,
  viewField,
  type MaterializeCounts,
  type OfflineStore,
  type OnlineStore,
  type RegisteredView,
} from '@tessera/core';

/** Running counts of a materialization (the counts the writers report as queued parts' progress). */
export type MaterializeProgressEvent = MaterializeCounts;

/** Rows read from ClickHouse and written online per step. */
export const MATERIALIZE_BATCH_ROWS = 5_000;

/**
 * Copies the latest row per entity of `view` with an event in [startMillis, endMillis) online and
 * yields the running counts after every batch. Rows already past the view's online retention are
 * skipped (they would read as gone anyway).
 */
export async function* materializeView(options: {
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly view: RegisteredView;
  readonly startMillis: number;
  readonly endMillis: number;
  /** Only the keys of this part (cluster mode splits a view into parts by key hash). */
  readonly part?: { readonly index: number; readonly count: number };
  readonly signal?: AbortSignal;
  readonly nowMillis?: number;
}): AsyncGenerator<MaterializeProgressEvent, void, undefined> {
  const { view, online } = options;
  const ttlMillis = view.ttlSeconds * 1000;
  const now = options.nowMillis ?? Date.now();
  const oldestKept = ttlMillis > 0 ? now - retentionMillis(ttlMillis) : -Infinity;
  const startMillis = Math.max(options.startMillis, oldestKept);
  let rowsRead = 0;
  let rowsWritten = 0;
  if (startMillis >= options.endMillis) {
    yield { rowsRead, rowsWritten };
    return;
  }
  const encoder = new RowEncoder(view.features.map((feature) => feature.type));
  const field = viewField(view.id, view.version);
  const batches = options.offline.latestRows(view, {
    startMillis,
    endMillis: options.endMillis,
    batchRows: MATERIALIZE_BATCH_ROWS,
    ...(options.part === undefined ? {} : { part: options.part }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  for await (const rows of batches) {
    rowsRead += rows.length;
    const result = await materializeChunkSpan(view, options.part, rows.length, () =>
      online.write({
        field,
        ttlMillis,
        keys: rows.map((row) => entityKey(view.entities, row.keys)),
        rows: rows.map((row) => encoder.encode(row.eventTsMillis, row.features)),
      }),
    );
    rowsWritten += result.applied;
    yield { rowsRead, rowsWritten };
  }
  if (rowsRead === 0) yield { rowsRead, rowsWritten };
}

const tracer = trace.getTracer('@tessera/materialize');

/** Runs one chunk's online write in a span `materialize <view>@<version>` (its Redis spans are children). */
function materializeChunkSpan<T extends { readonly applied: number }>(
  view: RegisteredView,
  part: { readonly index: number; readonly count: number } | undefined,
  rows: number,
  write: () => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(`materialize ${view.name}@${view.version}`, async (span) => {
    if (span.isRecording()) {
      span.setAttributes({
        'tessera.view': `${view.name}@${view.version}`,
        'tessera.materialize.rows_read': rows,
        ...(part === undefined
          ? {}
          : { 'tessera.materialize.part': part.index, 'tessera.materialize.parts': part.count }),
      });
    }
    try {
      const result = await write();
      if (span.isRecording()) span.setAttribute('tessera.materialize.rows_written', result.applied);
      return result;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
