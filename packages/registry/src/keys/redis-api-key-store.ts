import { readFileSync } from 'node:fs';
import type { Cluster } from 'ioredis';
import { createRedisCluster, type RedisClientSettings } from '@tessera/redis';
import { TesseraError, type ApiKeyRecord, type ApiKeyStore } from '@tessera/core';
import { decodeApiKeyRecord, encodeApiKeyRecord, nameTaken } from './record-json.js';

const ADD_LUA = readFileSync(new URL('../../src/lua/api-key-add-3.lua', import.meta.url), 'utf8');
const REVOKE_LUA = readFileSync(new URL('../../src/lua/api-key-revoke-3.lua', import.meta.url), 'utf8');

export interface RedisApiKeyStoreOptions {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  /** Authentication and TLS of every Redis connection (see @tessera/redis). Default: none. */
  readonly redis?: RedisClientSettings | undefined;
  /** The deployment's key prefix (`--key-prefix`); the store adds its own hash tag. */
  readonly keyPrefix?: string;
}

/**
 * API keys of a cluster-mode deployment, under one hash tag so one script updates them atomically:
 * every server of the deployment reads the same keys and sees a revocation at its next poll.
 */
export class RedisApiKeyStore implements ApiKeyStore {
  readonly #cluster: Cluster;
  readonly #keys: readonly [string, string, string];

  constructor(options: RedisApiKeyStoreOptions) {
    if (options.nodes.length === 0) throw new TesseraError('INVALID_ARGUMENT', 'RedisApiKeyStore needs cluster nodes');
    this.#cluster = createRedisCluster({ ...options.redis, nodes: options.nodes, scaleReads: 'master' });
    const prefix = `${options.keyPrefix ?? ''}{tessera:keys}:`;
    this.#keys = [`${prefix}records`, `${prefix}active`, `${prefix}mark`];
  }

  async list(): Promise<ApiKeyRecord[]> {
    const texts = await this.#call(() => this.#cluster.hvals(this.#keys[0]));
    return texts.map(decodeApiKeyRecord);
  }

  async add(
    record: ApiKeyRecord,
    replacing?: { readonly id: string; readonly revokedAtMillis: number },
  ): Promise<void> {
    const reply = await this.#call(() =>
      this.#cluster.eval(
        ADD_LUA,
        3,
        ...this.#keys,
        record.id,
        encodeApiKeyRecord(record),
        record.name,
        replacing?.id ?? '',
        replacing?.revokedAtMillis ?? 0,
      ),
    );
    if (reply !== 1) throw nameTaken(record.name);
  }

  async revoke(name: string, atMillis: number): Promise<ApiKeyRecord | undefined> {
    const reply = await this.#call(() => this.#cluster.eval(REVOKE_LUA, 3, ...this.#keys, name, atMillis));
    return typeof reply === 'string' ? decodeApiKeyRecord(reply) : undefined;
  }

  async changeMark(): Promise<string> {
    return (await this.#call(() => this.#cluster.get(this.#keys[2]))) ?? '0';
  }

  async close(): Promise<void> {
    await this.#cluster.quit().catch(() => this.#cluster.disconnect());
  }

  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new TesseraError('UNAVAILABLE', 'the API key store in Redis is unavailable', { cause: error });
    }
  }
}
