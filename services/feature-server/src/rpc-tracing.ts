/**
 * A server span per RPC, continuing the caller's W3C trace context (`traceparent`/`tracestate`
 * metadata). This is our own interceptor rather than `@opentelemetry/instrumentation-grpc`: that
 * instrumentation patches grpc-js when it is first required, which an ESM process that loads grpc-js
 * before tracing starts (every entry point here, and the tests) defeats; an interceptor also sees
 * the calls the auth interceptor refuses, and costs one no-op span per call when tracing is off.
 *
 * The handler runs inside the span's context, so the spans it causes (Redis pipelines, ClickHouse
 * queries, the write-behind job) are its children. Attributes follow the OpenTelemetry RPC
 * conventions: rpc.system, rpc.service, rpc.method, rpc.grpc.status_code.
 */
import { status } from '@grpc/grpc-js';
import type { Metadata } from '@grpc/grpc-js';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  propagation,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';

const tracer = trace.getTracer('@tessera/feature-server');
const HEALTH_PREFIX = '/grpc.health.v1.Health/';

/** Reads text metadata for the propagator (binary `-bin` values carry no trace context). */
const metadataGetter: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key).filter((v): v is string => typeof v === 'string');
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
  },
};

/**
 * Codes that are the server's fault (ERROR status on a server span, per the OpenTelemetry gRPC
 * conventions); the rest (INVALID_ARGUMENT, NOT_FOUND…) are the caller's and leave the span unset.
 */
const SERVER_ERRORS: ReadonlySet<status> = new Set([
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.UNIMPLEMENTED,
  status.INTERNAL,
  status.UNAVAILABLE,
  status.DATA_LOSS,
]);

/** Starts the server span of a call (`/pkg.Service/Method`), continuing the trace context in `metadata`. */
export function startRpcSpan(path: string, metadata: Metadata): { span: Span; context: Context } {
  const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
  // `/tessera.v1.FeatureStore/Write` → service `tessera.v1.FeatureStore`, method `Write`.
  const name = path.startsWith('/') ? path.slice(1) : path;
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
  if (span.isRecording()) {
    const slash = name.lastIndexOf('/');
    span.setAttributes({
      'rpc.system': 'grpc',
      'rpc.service': name.slice(0, slash),
      'rpc.method': name.slice(slash + 1),
    });
  }
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends a call's span with the status it sent (ERROR for the server's own faults). */
export function endRpcSpan(span: Span, code: status): void {
  if (span.isRecording()) {
    span.setAttribute('rpc.grpc.status_code', code);
    if (SERVER_ERRORS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: status[code] });
  }
  span.end();
}

/** Ends a call's span when the client cancelled it. */
export function cancelRpcSpan(span: Span): void {
  if (span.isRecording()) span.setStatus({ code: SpanStatusCode.ERROR, message: 'cancelled by the client' });
  span.end();
}

/** True for the calls that get no span (health probes, every few seconds from every prober). */
export function untracedPath(path: string): boolean {
  return path.startsWith(HEALTH_PREFIX);
}
