import { createRequire } from 'node:module';
import { InterceptingCall, type Interceptor, type Metadata } from '@grpc/grpc-js';
import type * as OpenTelemetryApi from '@opentelemetry/api';

/**
 * Where every copy of the OpenTelemetry API 1.x keeps what the process registered (propagator,
 * context manager, tracer provider). It exists only once something registered: until then the API's
 * `propagation.inject` is a no-op, so there is nothing to send.
 */
const OPENTELEMETRY_GLOBAL = Symbol.for('opentelemetry.js.api.1');

const metadataSetter: OpenTelemetryApi.TextMapSetter<Metadata> = {
  set: (metadata, key, value) => metadata.set(key, value),
};

let api: typeof OpenTelemetryApi | undefined;

/**
 * The OpenTelemetry API once the process registered anything with it, else undefined. Loaded on first
 * need, not at import: the API is ~50 modules and a `tessera get` (no SDK) never needs them. The copy
 * required here shares the registrations of any other copy through the global above — the API's own
 * contract between copies of one major version.
 */
function registeredApi(): typeof OpenTelemetryApi | undefined {
  if (api === undefined && (globalThis as Record<symbol, unknown>)[OPENTELEMETRY_GLOBAL] !== undefined) {
    api = createRequire(import.meta.url)('@opentelemetry/api') as typeof OpenTelemetryApi;
  }
  return api;
}

/**
 * A client interceptor that sends the caller's active OpenTelemetry trace context as W3C
 * `traceparent`/`tracestate` metadata, so the server's spans join the caller's trace. Without an
 * OpenTelemetry SDK in the calling process (or no active span) it adds nothing.
 */
export function traceContextInterceptor(): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        const otel = registeredApi();
        otel?.propagation.inject(otel.context.active(), metadata, metadataSetter);
        next(metadata, listener);
      },
    });
}
