import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiKeyStore } from '@tessera/core';
import { ApiKeyAuthenticator, createKey, openApiKeyStore, revokeKey, rotateKey } from '@tessera/registry';

// The authenticator's cache on a real key store (LMDB): what it remembers after one scrypt, and that
// nothing it remembers outlives a revocation or a rotation.

describe('ApiKeyAuthenticator', () => {
  let dataDir: string;
  let store: ApiKeyStore;
  let authenticator: ApiKeyAuthenticator;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-authenticator-'));
    store = openApiKeyStore({ kind: 'embedded', dataDir });
    authenticator = await ApiKeyAuthenticator.open(store, { refreshIntervalMillis: 60_000 });
  });

  afterEach(async () => {
    authenticator.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('verifies a token once with scrypt, then answers it without a promise', async () => {
    const { token } = await createKey(store, 'reader', ['read']);
    await authenticator.refresh();
    expect(authenticator.authenticateCached(token)).toBeUndefined();
    const first = await authenticator.authenticate(token);
    expect(first).toMatchObject({ ok: true, principal: { name: 'reader', scopes: ['read'] } });
    expect(authenticator.authenticateCached(token)).toEqual(first);
  });

  it('refuses a wrong secret for a real id, and remembers the refusal', async () => {
    const { token } = await createKey(store, 'reader', ['read']);
    await authenticator.refresh();
    await authenticator.authenticate(token);
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    const forged = token.slice(0, -1) + last;
    expect(authenticator.authenticateCached(forged)).toBeUndefined();
    expect(await authenticator.authenticate(forged)).toEqual({ ok: false, reason: 'unknown' });
    expect(authenticator.authenticateCached(forged)).toEqual({ ok: false, reason: 'unknown' });
    // The real token still passes: a refusal is remembered for the forged token only.
    expect(authenticator.authenticateCached(token)).toMatchObject({ ok: true });
  });

  it('refuses malformed and unknown tokens without scrypt', () => {
    expect(authenticator.authenticateCached('not-a-token')).toEqual({ ok: false, reason: 'malformed' });
    expect(authenticator.authenticateCached(`tsk_0123456789abcdef_${'A'.repeat(43)}`)).toEqual({
      ok: false,
      reason: 'unknown',
    });
  });

  it('refuses a remembered token once its key is revoked or rotated', async () => {
    const revoked = await createKey(store, 'gone', ['read']);
    const rotated = await createKey(store, 'turned', ['write']);
    await authenticator.refresh();
    expect(await authenticator.authenticate(revoked.token)).toMatchObject({ ok: true });
    expect(await authenticator.authenticate(rotated.token)).toMatchObject({ ok: true });

    await revokeKey(store, 'gone');
    const next = await rotateKey(store, 'turned');
    await authenticator.refresh();

    expect(authenticator.authenticateCached(revoked.token)).toEqual({ ok: false, reason: 'revoked' });
    expect(authenticator.authenticateCached(rotated.token)).toEqual({ ok: false, reason: 'revoked' });
    expect(await authenticator.authenticate(next.token)).toMatchObject({
      ok: true,
      principal: { name: 'turned', scopes: ['write'] },
    });
  });
});
