/**
 * How a server opens to the network: the refusal to expose one without authentication and TLS, the
 * bind of a listener, and the owner-only data directory. Shared by the feature server and the
 * offline server.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import type { Server, ServerCredentials } from '@grpc/grpc-js';
import { TesseraError } from '@tessera/core';
import { isLoopbackHost } from './tls.js';

/** What `checkExposure` looks at: authentication, TLS and the operator's explicit consent. */
export interface ExposureOptions {
  readonly auth?: unknown;
  readonly tls?: unknown;
  readonly insecure?: boolean;
}

/**
 * Refuses to expose a server without authentication and TLS: only loopback may go without them,
 * unless the operator says --insecure.
 */
export function checkExposure(host: string, options: ExposureOptions): void {
  const auth = options.auth !== undefined && options.auth !== false;
  if (isLoopbackHost(host) || (auth && options.tls !== undefined) || options.insecure === true) return;
  const missing = [auth ? '' : 'authentication (--auth)', options.tls ? '' : 'TLS (--tls-cert and --tls-key)']
    .filter(Boolean)
    .join(' and ');
  throw new TesseraError(
    'FAILED_PRECONDITION',
    `refusing to serve ${host} without ${missing}: only loopback addresses may go without them. ` +
      'Turn them on, bind 127.0.0.1, or pass --insecure to accept the risk.',
  );
}

/** Opens one listener of the server; a port taken or not allowed is named. */
export function bind(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (error, bound) =>
      error
        ? reject(new TesseraError('FAILED_PRECONDITION', `cannot listen on ${address}: ${error.message}`))
        : resolve(bound),
    );
  });
}

/** The data directory holds every feature value and the API key hashes: owner only. */
export function keepPrivate(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
}
