import { readFileSync } from 'node:fs';
import type { Cluster } from 'ioredis';
import { createRedisCluster, type RedisClientSettings } from '@tessera/redis';
import {
  TesseraError,
  deserializeRegistryState,
  serializeRegistryState,
  type RegistryLog,
  type RegistryLogEntry,
  type RegistryLogRecord,
  type RegistryState,
} from '@tessera/core';
import { checkEntrySequence, decodeRecord, encodeRecord } from './record-codec.js';

/** Source of `lua/registry-append-3.lua`, read from `src/lua/` whether running from src or dist. */
const APPEND_LUA = readFileSync(new URL('../src/lua/registry-append-3.lua', import.meta.url), 'utf8');

/** Default key prefix; one hash tag puts every registry key in one slot, so one script can update them all. */
export const DEFAULT_REGISTRY_KEY_PREFIX = '{tessera:registry}:';

export interface RedisRegistryLogOptions {
  /** Seed nodes of the Redis Cluster (ignored when `cluster` is given). */
  readonly nodes?: readonly { readonly host: string; readonly port: number }[];
  /** Authentication and TLS of every Redis connection (see @tessera/redis). Default: none. */
  readonly redis?: RedisClientSettings | undefined;
  /** An existing connection to use; it is not closed by close(). */
  readonly cluster?: Cluster;
  /**
   * Prefix of the registry's keys; must contain a hash tag (`{…}`) so all keys share a slot.
   * Use one per project or test namespace, e.g. `{tessera:registry:shop}:`.
   */
  readonly keyPrefix?: string;
}

/**
 * The registry log in Redis Cluster: the sequence, the latest state and the list of records
 * under one hash tag; a Lua script appends only when the sequence still matches. The registry is
 * only as durable as the cluster: enable AOF (or RDB) on it.
 */
export class RedisRegistryLog implements RegistryLog {
  readonly cluster: Cluster;
  readonly #ownsCluster: boolean;
  readonly #sequenceKey: string;
  readonly #stateKey: string;
  readonly #recordsKey: string;

  constructor(options: RedisRegistryLogOptions) {
    const prefix = options.keyPrefix ?? DEFAULT_REGISTRY_KEY_PREFIX;
    if (!/\{[^}]+\}/.test(prefix)) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `Registry key prefix "${prefix}" needs a hash tag, e.g. {tessera:registry}:`,
      );
    }
    if (options.cluster !== undefined) {
      this.cluster = options.cluster;
      this.#ownsCluster = false;
    } else if (options.nodes !== undefined && options.nodes.length > 0) {
      this.cluster = createRedisCluster({ ...options.redis, nodes: options.nodes, scaleReads: 'master' });
      this.#ownsCluster = true;
    } else {
      throw new TesseraError('INVALID_ARGUMENT', 'RedisRegistryLog needs cluster nodes or a connection');
    }
    this.#sequenceKey = `${prefix}seq`;
    this.#stateKey = `${prefix}state`;
    this.#recordsKey = `${prefix}log`;
  }

  async read(): Promise<{ sequence: number; state: RegistryState } | null> {
    const text = await this.#call(() => this.cluster.get(this.#stateKey));
    if (text === null) return null;
    const state = deserializeRegistryState(text);
    return { sequence: state.sequence, state };
  }

  async readSequence(): Promise<number> {
    return Number((await this.#call(() => this.cluster.get(this.#sequenceKey))) ?? '0');
  }

  async append(expectedSequence: number, entry: RegistryLogEntry): Promise<boolean> {
    checkEntrySequence(expectedSequence, entry);
    const reply = await this.#call(() =>
      this.cluster.eval(
        APPEND_LUA,
        3,
        this.#sequenceKey,
        this.#stateKey,
        this.#recordsKey,
        expectedSequence,
        serializeRegistryState(entry.state),
        encodeRecord(entry),
      ),
    );
    return reply === 1;
  }

  async records(): Promise<RegistryLogRecord[]> {
    const texts = await this.#call(() => this.cluster.lrange(this.#recordsKey, 0, -1));
    return texts.map(decodeRecord);
  }

  async close(): Promise<void> {
    if (this.#ownsCluster) await this.cluster.quit().catch(() => this.cluster.disconnect());
  }

  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new TesseraError('UNAVAILABLE', `Registry log in Redis unavailable: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}
