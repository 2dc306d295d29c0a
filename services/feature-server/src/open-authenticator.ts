/**
 * What the feature server and the offline server do alike before they listen: load the API keys
 * when auth is on, and say loudly what `--insecure` exposes.
 */
import type { ApiKeyStore, Logger } from '@tessera/core';
import { ApiKeyAuthenticator } from '@tessera/registry';
import { isLoopbackHost } from './tls.js';

/** The auth options both servers take (`ServerAuthOptions` of each). */
interface AuthSetting {
  readonly refreshIntervalMillis?: number;
}

/** The authenticator of `keys` when `auth` is on (`true` or options), else undefined. */
export async function openAuthenticator(
  keys: ApiKeyStore,
  auth: boolean | AuthSetting | undefined,
  logger: Logger,
): Promise<ApiKeyAuthenticator | undefined> {
  if (auth === undefined || auth === false) return undefined;
  const options = auth === true ? {} : auth;
  return ApiKeyAuthenticator.open(keys, {
    ...(options.refreshIntervalMillis === undefined ? {} : { refreshIntervalMillis: options.refreshIntervalMillis }),
    onRefreshError: (error) =>
      logger.warn({ err: error, component: 'auth' }, 'reloading API keys failed (the loaded keys stay in force)'),
  });
}

/** The warning of an `--insecure` start on a non-loopback host: what is missing and what anyone can do. */
export function warnIfInsecure(
  warn: (message: string) => void,
  exposure: {
    readonly insecure: boolean | undefined;
    readonly host: string;
    readonly authenticated: boolean;
    readonly tls: boolean;
    /** What a caller can do without a key, e.g. `read and write every offline row`. */
    readonly openTo: string;
  },
): void {
  if (exposure.insecure !== true || isLoopbackHost(exposure.host)) return;
  const missing = [exposure.authenticated ? '' : 'authentication', exposure.tls ? '' : 'TLS'].filter(Boolean);
  warn(
    `tessera: WARNING --insecure: serving ${exposure.host} without ${missing.join(' or ')}; anyone who reaches the port can ${exposure.authenticated ? 'read the traffic' : exposure.openTo}`,
  );
}
