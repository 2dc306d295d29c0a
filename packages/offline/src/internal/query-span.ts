/**
 * A span per ClickHouse query or insert (chDB or HTTP), with the OpenTelemetry database
 * attributes. The SQL text is not recorded: an entity SELECT is the caller's own SQL. The
 * operation name is the statement's first keyword only (`SELECT`, `INSERT`, `CREATE`…).
 */
import { INVALID_SPAN_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';

const tracer = trace.getTracer('@tessera/offline');

/** What the engine reported about one query; absent figures are not recorded. */
export interface QueryStats {
  /** ClickHouse's query id (HTTP), or the tag Tessera gave an isolated chDB query. */
  readonly queryId?: string | undefined;
  readonly readRows?: number | undefined;
  readonly readBytes?: number | undefined;
  readonly writtenRows?: number | undefined;
  readonly writtenBytes?: number | undefined;
  /** Bytes of the result as returned to Tessera. */
  readonly resultBytes?: number | undefined;
}

const FIRST_KEYWORD = /^\s*(?:\/\*[\s\S]*?\*\/\s*)*([A-Za-z]+)/;

/** Starts the span of a query (`sql`) or of an insert into `table` (`sql` undefined), under the active span. */
export function startQuerySpan(engine: 'chdb' | 'http', sql: string | undefined, table?: string): Span {
  // Only inside a traced operation: background queries (health pings, DDL at start) would each be a
  // trace of their own.
  if (trace.getSpan(context.active()) === undefined) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  const span = tracer.startSpan('clickhouse', { kind: SpanKind.CLIENT });
  if (span.isRecording()) {
    let operation = sql === undefined ? 'INSERT' : (FIRST_KEYWORD.exec(sql)?.[1]?.toUpperCase() ?? 'QUERY');
    if (operation === 'WITH') operation = 'SELECT';
    span.updateName(table === undefined ? operation : `${operation} ${table}`);
    span.setAttributes({
      'db.system.name': 'clickhouse',
      'db.operation.name': operation,
      'tessera.clickhouse.engine': engine,
      ...(table === undefined ? {} : { 'db.collection.name': table }),
    });
  }
  return span;
}

/** Ends `span` with the engine's figures, or as failed with `error`. */
export function endQuerySpan(span: Span, stats: QueryStats, error?: unknown): void {
  if (span.isRecording()) {
    const attributes: Record<string, string | number> = {};
    if (stats.queryId !== undefined && stats.queryId !== '') attributes['db.clickhouse.query_id'] = stats.queryId;
    if (stats.readRows !== undefined) attributes['db.clickhouse.read_rows'] = stats.readRows;
    if (stats.readBytes !== undefined) attributes['db.clickhouse.read_bytes'] = stats.readBytes;
    if (stats.writtenRows !== undefined) attributes['db.clickhouse.written_rows'] = stats.writtenRows;
    if (stats.writtenBytes !== undefined) attributes['db.clickhouse.written_bytes'] = stats.writtenBytes;
    if (stats.resultBytes !== undefined) attributes['db.clickhouse.result_bytes'] = stats.resultBytes;
    span.setAttributes(attributes);
    if (error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : 'failed' });
      const code = (error as { code?: unknown }).code;
      span.setAttribute('error.type', typeof code === 'string' ? code : error instanceof Error ? error.name : 'Error');
    }
  }
  span.end();
}

/** A number from ClickHouse's summary header (strings there), when present. */
export function summaryNumber(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
