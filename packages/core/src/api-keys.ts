/**
 * API keys: who may call what. A key is a bearer token `tsk_<id>_<secret>`; the store keeps only the
 * id (public, for lookup and listings), the name, the scopes and a salted hash of the secret.
 */
import { TesseraError } from './errors.js';

/** What a key may do. `admin` includes `read` and `write`. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** A stored API key: never the secret, only its salted scrypt hash. */
export interface ApiKeyRecord {
  /** 16 hex characters; the lookup part of the token. */
  readonly id: string;
  /** Unique among active keys; recorded as the author of what the key applies. */
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** scrypt salt, base64. */
  readonly salt: string;
  /** scrypt(secret, salt) with the parameters below, base64. */
  readonly hash: string;
  readonly createdAtMillis: number;
  /** Absent while the key is active. */
  readonly revokedAtMillis?: number;
}

/**
 * Where a deployment keeps its API keys: beside the embedded store (LMDB) or in the Redis Cluster,
 * so every server of a deployment sees the same keys. Servers poll `changeMark` and reload.
 */
export interface ApiKeyStore {
  /** Every key, revoked ones included. */
  list(): Promise<ApiKeyRecord[]>;
  /**
   * Adds a key. Fails with ALREADY_EXISTS when an active key has the same name, unless it is the
   * key `replacing` (a rotation: the old key is revoked in the same step).
   */
  add(record: ApiKeyRecord, replacing?: { readonly id: string; readonly revokedAtMillis: number }): Promise<void>;
  /** Marks the active key of that name revoked; the revoked record, or undefined when there is none. */
  revoke(name: string, atMillis: number): Promise<ApiKeyRecord | undefined>;
  /** Changes whenever a key is added or revoked: a cheap check before a reload. */
  changeMark(): Promise<string>;
  close(): Promise<void>;
}

/** Names of keys: short, printable, safe in logs and registry history. */
export const API_KEY_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Throws INVALID_ARGUMENT unless `name` is a valid key name. */
export function checkApiKeyName(name: string): void {
  if (!API_KEY_NAME_PATTERN.test(name)) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `API key name must be 1-64 characters of letters, digits, '.', '_' or '-' (got ${name.length} characters)`,
    );
  }
}

/** True when a key with `scopes` may do what `required` names (`admin` includes everything). */
export function scopeAllows(scopes: readonly Scope[], required: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(required);
}

/** Parses a comma-separated scope list (`read,write`); INVALID_ARGUMENT naming the bad entry. */
export function parseScopes(text: string): Scope[] {
  const scopes = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (scopes.length === 0)
    throw new TesseraError('INVALID_ARGUMENT', `scopes: give one or more of ${SCOPES.join(', ')}`);
  for (const scope of scopes) {
    if (!(SCOPES as readonly string[]).includes(scope)) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `scopes: "${scope.slice(0, 32)}" is not a scope (use ${SCOPES.join(', ')})`,
      );
    }
  }
  return [...new Set(scopes as Scope[])];
}
