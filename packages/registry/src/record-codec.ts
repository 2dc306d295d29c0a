/** Log records to and from JSON text (shared by both logs, so their stored data reads the same). */
import { TesseraError, type RegistryLogEntry } from '@tessera/core';

export { encodeRegistryRecord as encodeRecord, decodeRegistryRecord as decodeRecord } from '@tessera/core';

/** An entry must continue the sequence it expects; anything else is a caller bug. */
export function checkEntrySequence(expectedSequence: number, entry: RegistryLogEntry): void {
  if (entry.sequence !== expectedSequence + 1 || entry.state.sequence !== entry.sequence) {
    throw new TesseraError(
      'INTERNAL',
      `Registry log entry ${entry.sequence} (state ${entry.state.sequence}) does not follow sequence ${expectedSequence}`,
    );
  }
}
