import { InterceptingCall, type Interceptor, type Metadata } from '@grpc/grpc-js';
import { context, propagation, type TextMapSetter } from '@opentelemetry/api';

const metadataSetter: TextMapSetter<Metadata> = {
  set: (metadata, key, value) => metadata.set(key, value),
};

/**
 * Sends the caller's active trace context as W3C `traceparent`/`tracestate` metadata, so the
 * offline server's spans (its ClickHouse queries) join the feature server's or writer's trace.
 * Without an OpenTelemetry SDK in the process it adds nothing.
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
