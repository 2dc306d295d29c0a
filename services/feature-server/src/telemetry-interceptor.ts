import { status } from '@grpc/grpc-js';
import type { Metadata } from '@grpc/grpc-js';
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
