import { hash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRecord, ApiKeyStore, Scope } from '@tessera/core';
import { parseApiKeyToken, verifyApiKeySecret } from './api-key-token.js';

/** Who a verified token belongs to. */
export interface ApiKeyPrincipal {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
}

export type AuthenticationResult =
  | { readonly ok: true; readonly principal: ApiKeyPrincipal }
  | { readonly ok: false; readonly reason: 'malformed' | 'unknown' | 'revoked' };

export interface ApiKeyAuthenticatorOptions {
  /** How often the store's change mark is checked, ms; a revocation takes effect within it. Default 1,000. */
  readonly refreshIntervalMillis?: number;
  /** Most verified tokens remembered (each saves one scrypt). Default 10,000. */
  readonly maxCachedTokens?: number;
  /** Called when a refresh fails (the previous keys stay in force). */
  readonly onRefreshError?: (error: unknown) => void;
}

const DEFAULT_REFRESH_INTERVAL_MILLIS = 1_000;
const DEFAULT_MAX_CACHED_TOKENS = 10_000;

/**
 * Checks bearer tokens against a deployment's keys. The keys are held in memory and reloaded when
 * the store's change mark moves, so a revocation reaches every server within one refresh interval.
 * scrypt is paid once per token: a verified secret is remembered beside its key's stored hash and
 * compared in constant time on every use (no digest per call: on a busy server a SHA-256 per call cost
 * more than the rest of the key check), and every use is checked against the current key set, so a
 * revoked or rotated key fails at once. The secrets remembered are those of keys in use, which this
 * process sees in every call's metadata anyway.
 */
export class ApiKeyAuthenticator {
  readonly #store: ApiKeyStore;
  readonly #maxCached: number;
  #records = new Map<string, ApiKeyRecord>();
  #mark = '';
  /** Key id → its verified secret and the stored hash it was verified against. */
  readonly #verified = new Map<string, VerifiedSecret>();
  /** SHA-256 of a refused token → key id it failed for. */
  readonly #refused = new Map<string, string>();
  readonly #timer: NodeJS.Timeout;
  #refreshing: Promise<void> | undefined;

  private constructor(store: ApiKeyStore, options: ApiKeyAuthenticatorOptions) {
    this.#store = store;
    this.#maxCached = options.maxCachedTokens ?? DEFAULT_MAX_CACHED_TOKENS;
    this.#timer = setInterval(() => {
      this.refresh().catch((error: unknown) => options.onRefreshError?.(error));
    }, options.refreshIntervalMillis ?? DEFAULT_REFRESH_INTERVAL_MILLIS);
    this.#timer.unref();
  }

  /** Loads the keys once (failing when the store cannot be read), then keeps them fresh. */
  static async open(store: ApiKeyStore, options: ApiKeyAuthenticatorOptions = {}): Promise<ApiKeyAuthenticator> {
    const authenticator = new ApiKeyAuthenticator(store, options);
    try {
      await authenticator.refresh();
    } catch (error) {
      authenticator.close();
      throw error;
    }
    return authenticator;
  }

  /** Number of active keys (a server with none cannot be used: worth a warning). */
  activeKeyCount(): number {
    let n = 0;
    for (const record of this.#records.values()) if (record.revokedAtMillis === undefined) n += 1;
    return n;
  }

  /** Reloads the keys when the store changed. */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const mark = await this.#store.changeMark();
        if (mark === this.#mark) return;
        const records = await this.#store.list();
        this.#records = new Map(records.map((r) => [r.id, r]));
        this.#mark = mark;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /**
   * The answer for `token` when it needs no scrypt (a token seen before, or one refused on its form,
   * id or revocation alone), else undefined: the hot path of every call, without a promise.
   */
  authenticateCached(token: string): AuthenticationResult | undefined {
    const parsed = parseApiKeyToken(token);
    if (parsed === undefined) return { ok: false, reason: 'malformed' };
    const record = this.#records.get(parsed.id);
    if (record === undefined) return { ok: false, reason: 'unknown' };
    if (record.revokedAtMillis !== undefined) return { ok: false, reason: 'revoked' };
    const verified = this.#verified.get(record.id);
    if (verified !== undefined && verified.hash === record.hash) {
      const secret = Buffer.from(parsed.secret);
      if (secret.length === verified.secret.length && timingSafeEqual(secret, verified.secret)) {
        return { ok: true, principal: { id: record.id, name: record.name, scopes: record.scopes } };
      }
    }
    // A wrong secret for a real id costs one scrypt; remembering it keeps repeats cheap.
    if (this.#refused.get(hash('sha256', token, 'base64')) === record.id) return { ok: false, reason: 'unknown' };
    return undefined;
  }

  async authenticate(token: string): Promise<AuthenticationResult> {
    const cached = this.authenticateCached(token);
    if (cached !== undefined) return cached;
    const parsed = parseApiKeyToken(token) as { id: string; secret: string };
    const record = this.#records.get(parsed.id) as ApiKeyRecord;
    const ok = await verifyApiKeySecret(record, parsed.secret);
    if (ok) {
      remember(this.#verified, record.id, { secret: Buffer.from(parsed.secret), hash: record.hash }, this.#maxCached);
    } else {
      remember(this.#refused, hash('sha256', token, 'base64'), record.id, this.#maxCached);
    }
    if (!ok) return { ok: false, reason: 'unknown' };
    // The key may have been revoked while scrypt ran.
    if (this.#records.get(record.id)?.revokedAtMillis !== undefined) return { ok: false, reason: 'revoked' };
    return { ok: true, principal: { id: record.id, name: record.name, scopes: record.scopes } };
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

interface VerifiedSecret {
  readonly secret: Buffer;
  /** The key's stored scrypt hash when the secret was verified: a rotation changes it. */
  readonly hash: string;
}

function remember<T>(cache: Map<string, T>, key: string, value: T, max: number): void {
  if (cache.size >= max) cache.clear();
  cache.set(key, value);
}
