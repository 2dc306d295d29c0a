import { randomUUID } from 'node:crypto';
import {
  TesseraError,
  decodeRegistryRecord,
  deserializeRegistryState,
  encodeRegistryRecord,
  serializeRegistryState,
  type RegistryLog,
  type RegistryLogEntry,
  type RegistryLogRecord,
  type RegistryState,
} from '@tessera/core';
import { assertIdentifier, qualifiedName } from './ddl.js';
import type { ClickHouseExecutor } from './executor.js';

/** Table of the registry log inside the offline database. */
export const REGISTRY_LOG_TABLE = 'registry_log';

export interface ClickHouseRegistryLogOptions {
  /** The offline store's executor; the log does not close it. */
  readonly executor: ClickHouseExecutor;
  readonly database: string;
}

/**
 * The registry log in ClickHouse, shared by every stateless server that reaches the same
 * ClickHouse. Appends are compare-and-set without transactions: the insert of entry N carries the
 * deduplication token `registry-N`, so of several servers appending N concurrently ClickHouse keeps
 * exactly one block (the first), and each server reads entry N back to learn whether its own
 * entry (a random id) won. The table keeps `non_replicated_deduplication_window` so this holds on a
 * single node as it does on Replicated tables.
 */
export class ClickHouseRegistryLog implements RegistryLog {
  readonly #executor: ClickHouseExecutor;
  readonly #database: string;
  readonly #table: string;

  private constructor(options: ClickHouseRegistryLogOptions) {
    assertIdentifier(options.database, 'database name');
    this.#executor = options.executor;
    this.#database = options.database;
    this.#table = qualifiedName(options.database, REGISTRY_LOG_TABLE);
  }

  /** Opens the log, creating its table when missing. */
  static async open(options: ClickHouseRegistryLogOptions): Promise<ClickHouseRegistryLog> {
    const log = new ClickHouseRegistryLog(options);
    await log.#executor.command(
      `CREATE TABLE IF NOT EXISTS ${log.#table} (
        sequence UInt64,
        entry_id String,
        applied_at DateTime64(3, 'UTC'),
        record String,
        state String
      ) ENGINE = MergeTree ORDER BY sequence
      SETTINGS non_replicated_deduplication_window = 10000`,
    );
    return log;
  }

  async read(): Promise<{ sequence: number; state: RegistryState } | null> {
    const rows = await this.#executor.queryJson<{ state: string }>(
      `SELECT state FROM ${this.#table} ORDER BY sequence DESC LIMIT 1`,
    );
    const text = rows[0]?.state;
    if (text === undefined) return null;
    const state = deserializeRegistryState(text);
    return { sequence: state.sequence, state };
  }

  async readSequence(): Promise<number> {
    const rows = await this.#executor.queryJson<{ sequence: string | number }>(
      `SELECT max(sequence) AS sequence FROM ${this.#table}`,
    );
    return Number(rows[0]?.sequence ?? 0);
  }

  async append(expectedSequence: number, entry: RegistryLogEntry): Promise<boolean> {
    if (entry.sequence !== expectedSequence + 1 || entry.state.sequence !== entry.sequence) {
      throw new TesseraError(
        'INTERNAL',
        `Registry log entry ${entry.sequence} does not follow sequence ${expectedSequence}`,
      );
    }
    if ((await this.readSequence()) !== expectedSequence) return false;
    const entryId = randomUUID();
    const row = {
      sequence: entry.sequence,
      entry_id: entryId,
      applied_at: new Date(entry.appliedAtMillis).toISOString().replace('T', ' ').replace('Z', ''),
      record: encodeRegistryRecord(entry),
      state: serializeRegistryState(entry.state),
    };
    await this.#executor.insertRaw(`${this.#database}.${REGISTRY_LOG_TABLE}`, Buffer.from(JSON.stringify(row) + '\n'), {
      format: 'JSONEachRow',
      settings: { insert_deduplication_token: `registry-${entry.sequence}` },
    });
    const winners = await this.#executor.queryJson<{ entry_id: string }>(
      `SELECT entry_id FROM ${this.#table} WHERE sequence = {sequence:UInt64}`,
      { sequence: entry.sequence },
    );
    if (winners.length > 1) {
      throw new TesseraError(
        'INTERNAL',
        `Registry log holds ${winners.length} entries for sequence ${entry.sequence}; insert deduplication is off`,
      );
    }
    return winners[0]?.entry_id === entryId;
  }

  async records(): Promise<RegistryLogRecord[]> {
    const rows = await this.#executor.queryJson<{ record: string }>(
      `SELECT record FROM ${this.#table} ORDER BY sequence`,
    );
    return rows.map((r) => decodeRegistryRecord(r.record));
  }

  /** The executor belongs to the offline store, which closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
