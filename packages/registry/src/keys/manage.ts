import { TesseraError, checkApiKeyName, type ApiKeyRecord, type ApiKeyStore, type Scope } from '@tessera/core';
import { createApiKey } from './api-key-token.js';

/** Creates a key; the token is returned here and never again. */
export async function createKey(
  store: ApiKeyStore,
  name: string,
  scopes: readonly Scope[],
  nowMillis = Date.now(),
): Promise<{ token: string; record: ApiKeyRecord }> {
  checkApiKeyName(name);
  if (scopes.length === 0) throw new TesseraError('INVALID_ARGUMENT', 'an API key needs at least one scope');
  const created = await createApiKey(name, scopes, nowMillis);
  await store.add(created.record);
  return created;
}

/** A new secret for the active key of that name, same scopes; the old secret stops working. */
export async function rotateKey(
  store: ApiKeyStore,
  name: string,
  nowMillis = Date.now(),
): Promise<{ token: string; record: ApiKeyRecord }> {
  checkApiKeyName(name);
  const active = (await store.list()).find((r) => r.name === name && r.revokedAtMillis === undefined);
  if (active === undefined) throw new TesseraError('NOT_FOUND', `no active API key named "${name}"`);
  const created = await createApiKey(name, active.scopes, nowMillis);
  await store.add(created.record, { id: active.id, revokedAtMillis: nowMillis });
  return created;
}

/** Revokes the active key of that name. */
export async function revokeKey(store: ApiKeyStore, name: string, nowMillis = Date.now()): Promise<ApiKeyRecord> {
  checkApiKeyName(name);
  const revoked = await store.revoke(name, nowMillis);
  if (revoked === undefined) throw new TesseraError('NOT_FOUND', `no active API key named "${name}"`);
  return revoked;
}
