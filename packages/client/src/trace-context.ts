import { InterceptingCall, type Interceptor, type Metadata } from '@grpc/grpc-js';
import { context, propagation, type TextMapSetter } from '@opentelemetry/api';

const metadataSetter: TextMapSetter<Metadata> = {
  set: (metadata, key, value) => metadata.set(key, value),
};

/**
 * A client interceptor that sends the caller's active OpenTelemetry trace context as W3C
 * `traceparent`/`tracestate` metadata, so the server's spans join the caller's trace. Without an
 * OpenTelemetry SDK in the calling process (or no active span) it adds nothing.
 */
export function traceContextInterceptor(): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        propagation.inject(context.active(), metadata, metadataSetter);
        next(metadata, listener);
      },
    });
}
