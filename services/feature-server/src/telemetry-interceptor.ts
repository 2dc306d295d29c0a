import { ResponderBuilder, ServerInterceptingCall, status } from '@grpc/grpc-js';
import type { Metadata, ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from '@tessera/core';
import type { TesseraMetrics } from '@tessera/telemetry';
import { takeInternalError } from './grpc-status.js';

/**
 * What a call's status leaves behind: its duration in the RPC histogram (by method and code), and an
 * INTERNAL error logged once with the id its client was given.
 */
export function observeRpcStatus(
  logger: Logger,
  metrics: TesseraMetrics | undefined,
  path: string,
  startedMillis: number,
  sent: { readonly code: status; readonly metadata?: Metadata | null | undefined },
): void {
  if (metrics !== undefined) metrics.rpc.observe(path, sent.code, (performance.now() - startedMillis) / 1000);
  if (sent.code === status.INTERNAL && sent.metadata) {
    const internal = takeInternalError(sent.metadata);
    if (internal !== undefined) {
      logger.error(
        { err: internal.error, error_id: internal.id, method: path },
        `internal error ${internal.id} in ${path}`,
      );
    }
  }
}

/**
 * The first interceptor of every call: times it from its start to its status (the RPC duration
 * histogram, by method and code — auth refusals included, since it sits in front of them), and logs
 * each INTERNAL error once, with the id its client was given, the method and the real error.
 */
export function telemetryInterceptor(logger: Logger, metrics: TesseraMetrics | undefined): ServerInterceptor {
  return (methodDescriptor, call) => {
    const started = performance.now();
    const path = methodDescriptor.path;
    const responder = new ResponderBuilder()
      .withSendStatus((sent, next) => {
        observeRpcStatus(logger, metrics, path, started, sent);
        next(sent);
      })
      .build();
    return new ServerInterceptingCall(call, responder);
  };
}
