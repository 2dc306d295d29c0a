import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKeyAuthenticator, LmdbApiKeyStore, createKey } from '@tessera/registry';
const store = new LmdbApiKeyStore({ directory: join(mkdtempSync(join(tmpdir(), 'micro-')), 'keys') });
const { token } = await createKey(store, 'k', ['read']);
const auth = await ApiKeyAuthenticator.open(store);
await auth.authenticate(token);
for (let round = 0; round < 3; round++) {
  const n = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await auth.authenticate(token);
  const t1 = process.hrtime.bigint();
  console.log(`authenticate: ${(Number(t1 - t0) / n / 1000).toFixed(2)} µs/call`);
}
auth.close();
await store.close();
