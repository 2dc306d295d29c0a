/**
 * Authentication and authorization at the server edge: one interceptor in front of every method.
 * With auth on, each call needs `authorization: Bearer tsk_…` metadata naming an active key whose
 * scopes cover the method; without it the call ends UNAUTHENTICATED or PERMISSION_DENIED before any
 * handler runs. Health is always open (probes carry no credentials). Whatever the mode, the
 * principal headers are set here only: a client cannot claim an identity by sending them.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { scopeAllows, SCOPES, type Scope } from '@tessera/core';
import type { ApiKeyAuthenticator, ApiKeyPrincipal, AuthenticationResult } from '@tessera/registry';
import { RateLimiter, type RateLimit } from './rate-limit.js';

/** Metadata keys the interceptor sets for handlers (stripped from what clients send). */
const PRINCIPAL_NAME_KEY = 'tessera-principal-name';
const PRINCIPAL_SCOPES_KEY = 'tessera-principal-scopes';

/** The scope each method needs; `open` methods need none. Anything unlisted needs `admin` (fail closed). */
export const METHOD_SCOPES: Readonly<Record<string, Scope | 'open'>> = {
  '/tessera.v1.FeatureStore/GetOnlineFeatures': 'read',
  '/tessera.v1.FeatureStore/GetHistorical': 'read',
  '/tessera.v1.FeatureStore/Write': 'write',
  '/tessera.v1.FeatureStore/WriteStream': 'write',
  '/tessera.v1.FeatureStore/Materialize': 'admin',
  '/tessera.v1.Registry/Apply': 'admin',
  '/tessera.v1.Registry/Get': 'read',
  '/tessera.v1.Registry/List': 'read',
  '/tessera.v1.Registry/History': 'read',
  '/tessera.v1.Operations/GetWriteBehindStats': 'read',
  '/tessera.v1.Operations/ListDeadLetters': 'admin',
  '/tessera.v1.Operations/GetDeadLetter': 'admin',
  '/tessera.v1.Operations/ReplayDeadLetter': 'admin',
  '/tessera.v1.Operations/DropDeadLetter': 'admin',
  '/tessera.v1.Operations/CreateApiKey': 'admin',
  '/tessera.v1.Operations/ListApiKeys': 'admin',
  '/tessera.v1.Operations/RotateApiKey': 'admin',
  '/tessera.v1.Operations/RevokeApiKey': 'admin',
  // The offline server's internal service: Tessera processes holding an admin key.
  '/tessera.offline.v1.OfflineStore/EnsureTables': 'admin',
  '/tessera.offline.v1.OfflineStore/Insert': 'admin',
  '/tessera.offline.v1.OfflineStore/LatestRows': 'admin',
  '/tessera.offline.v1.OfflineStore/Historical': 'admin',
  '/tessera.offline.v1.OfflineStore/CheckEntitySource': 'admin',
  '/tessera.offline.v1.OfflineStore/Ping': 'admin',
  '/grpc.health.v1.Health/Check': 'open',
  '/grpc.health.v1.Health/Watch': 'open',
  '/grpc.health.v1.Health/List': 'open',
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo': 'read',
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo': 'read',
};

/** Options of API key authentication. */
export interface AuthOptions {
  readonly authenticator: ApiKeyAuthenticator;
  /** Per-key request budget; beyond it calls end RESOURCE_EXHAUSTED. Default 2,000/s, burst 4,000. */
  readonly rateLimit?: RateLimit;
}

/** Who made a call: a key, or `undefined` when the server runs without authentication (loopback only). */
export function principalOf(call: { readonly metadata: Metadata }): ApiKeyPrincipal | undefined {
  const name = call.metadata.get(PRINCIPAL_NAME_KEY)[0];
  if (typeof name !== 'string') return undefined;
  const scopes = String(call.metadata.get(PRINCIPAL_SCOPES_KEY)[0] ?? '')
    .split(',')
    .filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
  return { id: '', name, scopes };
}

/** True when the call may use something that needs `scope` (always, without authentication). */
export function callAllows(call: { readonly metadata: Metadata }, scope: Scope): boolean {
  const principal = principalOf(call);
  return principal === undefined || scopeAllows(principal.scopes, scope);
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The per-listener state of authentication: the options and the rate limiter of its keys. */
export interface EdgeAuth {
  readonly auth: AuthOptions | undefined;
  readonly limiter: RateLimiter | undefined;
}

/** The authentication state of one listener (`auth` undefined: none, principal headers still stripped). */
export function edgeAuth(auth: AuthOptions | undefined): EdgeAuth {
  return { auth, limiter: auth === undefined ? undefined : new RateLimiter(auth.rateLimit) };
}

/**
 * Authenticates and authorizes a call's metadata: strips the principal headers a client sent,
 * then either passes the metadata on (`next`, with the principal set when a key was checked) or
 * refuses the call (`refuse`) with UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED or
 * UNAVAILABLE.
 */
export function authorizeCall(
  state: EdgeAuth,
  path: string,
  metadata: Metadata,
  next: (metadata: Metadata) => void,
  refuse: (code: status, details: string) => void,
): void {
  metadata.remove(PRINCIPAL_NAME_KEY);
  metadata.remove(PRINCIPAL_SCOPES_KEY);
  const { auth, limiter } = state;
  if (auth === undefined) {
    next(metadata);
    return;
  }
  const required = METHOD_SCOPES[path] ?? 'admin';
  if (required === 'open') {
    next(metadata);
    return;
  }
  const header = metadata.get('authorization')[0];
  const token = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
  if (token === undefined) {
    refuse(status.UNAUTHENTICATED, "this server needs an API key: send metadata 'authorization: Bearer <key>'");
    return;
  }
  const decide = (result: AuthenticationResult): void => {
    if (!result.ok) {
      refuse(
        status.UNAUTHENTICATED,
        result.reason === 'revoked' ? 'the API key was revoked' : 'the API key is not valid',
      );
    } else if (!scopeAllows(result.principal.scopes, required)) {
      refuse(
        status.PERMISSION_DENIED,
        `API key "${result.principal.name}" (scopes ${result.principal.scopes.join(',')}) lacks the ${required} scope ${path} needs`,
      );
    } else if (limiter?.take(result.principal.id) === false) {
      refuse(
        status.RESOURCE_EXHAUSTED,
        `API key "${result.principal.name}" is over its rate limit of ${limiter.requestsPerSecond} requests/s; retry with backoff`,
      );
    } else {
      metadata.set(PRINCIPAL_NAME_KEY, result.principal.name);
      metadata.set(PRINCIPAL_SCOPES_KEY, result.principal.scopes.join(','));
      next(metadata);
    }
  };
  // A token seen before is decided now; only a new one waits for scrypt.
  const cached = auth.authenticator.authenticateCached(token);
  if (cached !== undefined) {
    decide(cached);
    return;
  }
  auth.authenticator
    .authenticate(token)
    .then(decide, () => refuse(status.UNAVAILABLE, 'API keys cannot be checked right now; retry'));
}
