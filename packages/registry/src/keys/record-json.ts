import { SCOPES, TesseraError, type ApiKeyRecord, type Scope } from '@tessera/core';

/** Reads a stored key record, refusing anything malformed (a corrupt store must not grant access). */
export function decodeApiKeyRecord(text: string): ApiKeyRecord {
  const value = JSON.parse(text) as Partial<Record<keyof ApiKeyRecord, unknown>>;
  const scopes = value.scopes;
  if (
    typeof value.id !== 'string' ||
    typeof value.name !== 'string' ||
    typeof value.salt !== 'string' ||
    typeof value.hash !== 'string' ||
    typeof value.createdAtMillis !== 'number' ||
    !Array.isArray(scopes) ||
    !scopes.every((s) => (SCOPES as readonly unknown[]).includes(s)) ||
    (value.revokedAtMillis !== undefined && typeof value.revokedAtMillis !== 'number')
  ) {
    throw new TesseraError('INTERNAL', 'a stored API key record is malformed');
  }
  return {
    id: value.id,
    name: value.name,
    scopes: scopes as Scope[],
    salt: value.salt,
    hash: value.hash,
    createdAtMillis: value.createdAtMillis,
    ...(typeof value.revokedAtMillis === 'number' ? { revokedAtMillis: value.revokedAtMillis } : {}),
  };
}

export function encodeApiKeyRecord(record: ApiKeyRecord): string {
  return JSON.stringify(record);
}

export function nameTaken(name: string): TesseraError {
  return new TesseraError(
    'ALREADY_EXISTS',
    `an active API key named "${name}" exists: rotate it (tessera keys rotate ${name}) or revoke it first`,
  );
}
