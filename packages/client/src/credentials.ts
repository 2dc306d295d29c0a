import { readFileSync } from 'node:fs';
import { credentials, InterceptingCall } from '@grpc/grpc-js';
import type { ChannelCredentials, Interceptor } from '@grpc/grpc-js';

/** TLS of a client: trust anchors and, for mTLS, the client's own certificate. */
export interface ClientTlsOptions {
  /** CA certificate(s) that signed the server's certificate; the system roots when absent. */
  readonly caFile?: string;
  /** Client certificate and key for mTLS. */
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** Channel credentials for `tls` (plaintext without it). */
export function channelCredentials(tls: ClientTlsOptions | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  const read = (path: string | undefined): Buffer | null => (path === undefined ? null : readFileSync(path));
  return credentials.createSsl(read(tls.caFile), read(tls.keyFile), read(tls.certFile));
}

/** A client interceptor that adds the API key to every call, whatever the channel. */
export function apiKeyInterceptor(apiKey: string): Interceptor {
  const value = `Bearer ${apiKey}`;
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', value);
        next(metadata, listener);
      },
    });
}
