/**
 * The durable registry log that stateless servers share. Each apply appends one entry holding
 * the whole next state (small: definitions only) and the change lines; appends use optimistic
 * concurrency on the sequence number, so two servers applying at once never lose an apply.
 */
import type { Change } from './plan.js';
import { fromJsonSafe, toJsonSafe } from './serialize.js';
import type { RegistryState } from './state.js';

/** One apply as stored. */
export interface RegistryLogEntry {
  /** Sequence of the state after this apply (the previous sequence + 1). */
  readonly sequence: number;
  readonly state: RegistryState;
  /** Who applied (from the request; '' when unknown). */
  readonly author: string;
  readonly appliedAtMillis: number;
  readonly changes: readonly Change[];
}

/** An entry without its state: what History needs. */
export type RegistryLogRecord = Omit<RegistryLogEntry, 'state'>;

export interface RegistryLog {
  /** The latest state and its sequence, or null when nothing was ever applied. */
  read(): Promise<{ sequence: number; state: RegistryState } | null>;
  /** The latest sequence (0 when empty); cheap, for polling. */
  readSequence(): Promise<number>;
  /**
   * Appends an entry if the latest sequence is still `expectedSequence` (and
   * `entry.sequence === expectedSequence + 1`). Resolves false when another writer appended
   * first: read again, re-plan and retry.
   */
  append(expectedSequence: number, entry: RegistryLogEntry): Promise<boolean>;
  /** Every appended entry without its state, oldest first. */
  records(): Promise<RegistryLogRecord[]>;
  close(): Promise<void>;
}

/** A log record as JSON text (every log stores records alike, so their data reads the same). */
export function encodeRegistryRecord(entry: RegistryLogEntry): string {
  const record: RegistryLogRecord = {
    sequence: entry.sequence,
    author: entry.author,
    appliedAtMillis: entry.appliedAtMillis,
    changes: entry.changes,
  };
  return JSON.stringify(toJsonSafe(record));
}

export function decodeRegistryRecord(text: string): RegistryLogRecord {
  return fromJsonSafe(JSON.parse(text)) as RegistryLogRecord;
}
