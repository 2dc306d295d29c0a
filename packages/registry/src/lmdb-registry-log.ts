import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import {
  deserializeRegistryState,
  serializeRegistryState,
  type RegistryLog,
  type RegistryLogEntry,
  type RegistryLogRecord,
  type RegistryState,
} from '@tessera/core';
import { checkEntrySequence, decodeRecord, encodeRecord } from './record-codec.js';

export interface LmdbRegistryLogOptions {
  /** Directory of the registry database, e.g. `.tessera/registry`; created when missing. */
  readonly directory: string;
}

const SEQUENCE_KEY = 'seq';
const STATE_KEY = 'state';
const RECORD_PREFIX = 'log:';
/** Record keys are zero-padded so that string order is sequence order. */
const RECORD_DIGITS = 12;

/**
 * The embedded registry log: one LMDB file. An append checks the sequence and writes the state
 * and the record in one write transaction; LMDB serialises write transactions across processes,
 * so concurrent appenders on one machine cannot both win.
 */
export class LmdbRegistryLog implements RegistryLog {
  readonly #db: RootDatabase<string, string>;

  constructor(options: LmdbRegistryLogOptions) {
    mkdirSync(options.directory, { recursive: true });
    this.#db = open<string, string>({ path: join(options.directory, 'registry.mdb'), encoding: 'string' });
  }

  read(): Promise<{ sequence: number; state: RegistryState } | null> {
    this.#db.resetReadTxn(); // see appends of other processes
    const text = this.#db.get(STATE_KEY);
    if (text === undefined) return Promise.resolve(null);
    const state = deserializeRegistryState(text);
    return Promise.resolve({ sequence: state.sequence, state });
  }

  readSequence(): Promise<number> {
    this.#db.resetReadTxn();
    return Promise.resolve(Number(this.#db.get(SEQUENCE_KEY) ?? '0'));
  }

  async append(expectedSequence: number, entry: RegistryLogEntry): Promise<boolean> {
    checkEntrySequence(expectedSequence, entry);
    const state = serializeRegistryState(entry.state);
    const record = encodeRecord(entry);
    return this.#db.transaction(() => {
      if (Number(this.#db.get(SEQUENCE_KEY) ?? '0') !== expectedSequence) return false;
      void this.#db.put(SEQUENCE_KEY, String(entry.sequence));
      void this.#db.put(STATE_KEY, state);
      void this.#db.put(RECORD_PREFIX + String(entry.sequence).padStart(RECORD_DIGITS, '0'), record);
      return true;
    });
  }

  records(): Promise<RegistryLogRecord[]> {
    this.#db.resetReadTxn();
    const records: RegistryLogRecord[] = [];
    for (const { value } of this.#db.getRange({ start: RECORD_PREFIX, end: `${RECORD_PREFIX}\uffff` })) {
      records.push(decodeRecord(value));
    }
    return Promise.resolve(records);
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}
