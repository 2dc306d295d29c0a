import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import type { ApiKeyRecord, ApiKeyStore } from '@tessera/core';
import { decodeApiKeyRecord, encodeApiKeyRecord, nameTaken } from './record-json.js';

export interface LmdbApiKeyStoreOptions {
  /** Directory of the key database, e.g. `.tessera/keys`; created (mode 0700) when missing. */
  readonly directory: string;
}

const MARK_KEY = 'mark';
const RECORD_PREFIX = 'key:';

/**
 * API keys of an embedded deployment in one LMDB file. LMDB serialises write transactions across
 * processes, so `tessera keys create --data-dir` beside a running server is safe, and the server
 * sees the change at its next poll.
 */
export class LmdbApiKeyStore implements ApiKeyStore {
  readonly #db: RootDatabase<string, string>;

  constructor(options: LmdbApiKeyStoreOptions) {
    mkdirSync(options.directory, { recursive: true, mode: 0o700 });
    this.#db = open<string, string>({ path: join(options.directory, 'keys.mdb'), encoding: 'string' });
  }

  list(): Promise<ApiKeyRecord[]> {
    this.#db.resetReadTxn(); // see writes of other processes
    return Promise.resolve(this.#records());
  }

  async add(
    record: ApiKeyRecord,
    replacing?: { readonly id: string; readonly revokedAtMillis: number },
  ): Promise<void> {
    const added = await this.#db.transaction(() => {
      const active = this.#records().find((other) => other.name === record.name && other.revokedAtMillis === undefined);
      // The same rule as the Redis script: the active key of that name must be the one replaced, if any.
      if ((active?.id ?? '') !== (replacing?.id ?? '')) return false;
      if (active !== undefined && replacing !== undefined) {
        void this.#db.put(
          RECORD_PREFIX + active.id,
          encodeApiKeyRecord({ ...active, revokedAtMillis: replacing.revokedAtMillis }),
        );
      }
      void this.#db.put(RECORD_PREFIX + record.id, encodeApiKeyRecord(record));
      this.#bumpMark();
      return true;
    });
    if (!added) throw nameTaken(record.name);
  }

  revoke(name: string, atMillis: number): Promise<ApiKeyRecord | undefined> {
    return this.#db.transaction(() => {
      const active = this.#records().find((record) => record.name === name && record.revokedAtMillis === undefined);
      if (active === undefined) return undefined;
      const revoked = { ...active, revokedAtMillis: atMillis };
      void this.#db.put(RECORD_PREFIX + active.id, encodeApiKeyRecord(revoked));
      this.#bumpMark();
      return revoked;
    });
  }

  changeMark(): Promise<string> {
    this.#db.resetReadTxn();
    return Promise.resolve(this.#db.get(MARK_KEY) ?? '0');
  }

  close(): Promise<void> {
    return this.#db.close();
  }

  #records(): ApiKeyRecord[] {
    return Array.from(this.#db.getRange({ start: RECORD_PREFIX, end: `${RECORD_PREFIX}\uffff` }), ({ value }) =>
      decodeApiKeyRecord(value),
    );
  }

  #bumpMark(): void {
    void this.#db.put(MARK_KEY, String(Number(this.#db.get(MARK_KEY) ?? '0') + 1));
  }
}
