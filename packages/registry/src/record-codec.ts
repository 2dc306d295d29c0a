/** Log records to and from JSON text (shared by both logs, so their stored data reads the same). */
import { TesseraError, fromJsonSafe, toJsonSafe, type RegistryLogEntry, type RegistryLogRecord } from '@tessera/core';

export function encodeRecord(entry: RegistryLogEntry): string {
  const record: RegistryLogRecord = {
    sequence: entry.sequence,
    author: entry.author,
    appliedAtMillis: entry.appliedAtMillis,
    changes: entry.changes,
  };
  return JSON.stringify(toJsonSafe(record));
}

export function decodeRecord(text: string): RegistryLogRecord {
  return fromJsonSafe(JSON.parse(text)) as RegistryLogRecord;
}

/** An entry must continue the sequence it expects; anything else is a caller bug. */
export function checkEntrySequence(expectedSequence: number, entry: RegistryLogEntry): void {
  if (entry.sequence !== expectedSequence + 1 || entry.state.sequence !== entry.sequence) {
    throw new TesseraError(
      'INTERNAL',
      `Registry log entry ${entry.sequence} (state ${entry.state.sequence}) does not follow sequence ${expectedSequence}`,
    );
  }
}
