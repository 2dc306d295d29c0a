import type { Server } from '@grpc/grpc-js';
import type { Logger } from '@tessera/core';

/**
 * Stops accepting calls at once and lets the calls in flight finish for up to `graceMillis`, then
 * cancels what is left. Idle connections are closed without waiting (HTTP/2 GOAWAY).
 */
export function shutdownServer(server: Server, graceMillis: number, logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      logger.warn(
        { grace_ms: graceMillis },
        `shutdown: calls still in flight after ${graceMillis} ms: cancelling them`,
      );
      server.forceShutdown();
      resolve();
    }, graceMillis);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
