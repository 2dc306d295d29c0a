/**
 * The servers' one interceptor (feature server and offline server): tracing, telemetry and authentication in one layer. Each
 * grpc-js interceptor wraps every call in a call object of its own, with a listener and a responder
 * and their closures; three of them cost the online read path more than its own decoding (bench/
 * online-load.ts). Behaviour is the three's, in their order: the span starts first, from the
 * metadata as the client sent it, and everything after it (authentication, the handler) runs in
 * its context; the duration, the span's end and the INTERNAL error log see every status, the
 * refusals of authentication included.
 */
import { Metadata, ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder } from '@grpc/grpc-js';
import type { ServerInterceptor, status } from '@grpc/grpc-js';
import { ROOT_CONTEXT, context, type Context, type Span } from '@opentelemetry/api';
import type { Logger } from '@tessera/core';
import type { TesseraMetrics } from '@tessera/telemetry';
import { authorizeCall, edgeAuth, type AuthOptions } from './auth.js';
import { cancelRpcSpan, endRpcSpan, startRpcSpan, untracedPath } from './rpc-tracing.js';
import { observeRpcStatus } from './telemetry-interceptor.js';

/** The interceptor of one listener (`auth` undefined: no authentication, principal headers still stripped). */
export function edgeInterceptor(
  logger: Logger,
  metrics: TesseraMetrics | undefined,
  auth: AuthOptions | undefined,
): ServerInterceptor {
  const authState = edgeAuth(auth);
  return (methodDescriptor, call) => {
    const started = performance.now();
    const path = methodDescriptor.path;
    const traced = !untracedPath(path);
    let span: Span | undefined;
    let spanContext: Context = ROOT_CONTEXT;
    const inSpan = <T>(next: () => T): T => (span === undefined ? next() : context.with(spanContext, next));
    const observe = (code: status, metadata: Metadata | null | undefined): void => {
      observeRpcStatus(logger, metrics, path, started, { code, metadata });
      if (span !== undefined) endRpcSpan(span, code);
      span = undefined;
    };
    const refuse = (code: status, details: string): void => {
      const metadata = new Metadata();
      observe(code, metadata);
      call.sendStatus({ code, details, metadata });
    };
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        if (traced) {
          const startedSpan = startRpcSpan(path, metadata);
          span = startedSpan.span;
          spanContext = startedSpan.context;
        }
        inSpan(() => authorizeCall(authState, path, metadata, next, refuse));
      })
      .withOnReceiveMessage((message, next) => inSpan(() => next(message)))
      .withOnReceiveHalfClose((next) => inSpan(next))
      .withOnCancel(() => {
        if (span !== undefined) cancelRpcSpan(span);
        span = undefined;
      })
      .build();
    const responder = new ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((sent, next) => {
        observe(sent.code, sent.metadata);
        next(sent);
      })
      .build();
    return new ServerInterceptingCall(call, responder);
  };
}
