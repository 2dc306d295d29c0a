/**
 * API key tokens: `tsk_<id>_<secret>`. The id (16 hex characters) finds the stored record; the secret
 * (32 random bytes, base64url) is checked against its salted scrypt hash in constant time. The secret
 * exists only in the token handed out once at creation.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRecord, Scope } from '@tessera/core';

const TOKEN_PATTERN = /^tsk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const SECRET_BYTES = 32;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** scrypt cost: ~40 ms per check on these machines; a verified token is cached, so it is paid once. */
const SCRYPT_OPTIONS = { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

/** The two parts of a well-formed token, or undefined when it is not one. */
export function parseApiKeyToken(token: string): { id: string; secret: string } | undefined {
  const match = TOKEN_PATTERN.exec(token);
  return match ? { id: match[1] as string, secret: match[2] as string } : undefined;
}

function scryptAsync(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, HASH_BYTES, SCRYPT_OPTIONS, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** A new key: the token to show once, and the record to store (hash only). */
export async function createApiKey(
  name: string,
  scopes: readonly Scope[],
  nowMillis: number,
): Promise<{ token: string; record: ApiKeyRecord }> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(secret, salt);
  return {
    token: `tsk_${id}_${secret}`,
    record: {
      id,
      name,
      scopes: [...scopes],
      salt: salt.toString('base64'),
      hash: hash.toString('base64'),
      createdAtMillis: nowMillis,
    },
  };
}

/** True when `secret` hashes to the record's hash (compared in constant time). */
export async function verifyApiKeySecret(record: ApiKeyRecord, secret: string): Promise<boolean> {
  const expected = Buffer.from(record.hash, 'base64');
  const actual = await scryptAsync(secret, Buffer.from(record.salt, 'base64'));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
