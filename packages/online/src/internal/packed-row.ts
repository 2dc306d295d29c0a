import { TesseraError, entityKeyProblem, quoteInput } from '@tessera/core';

/** Bytes of the packed-row header: format version (1) + event timestamp ms as LE float64 (8). */
export const ROW_HEADER_BYTES = 9;

/** Event timestamp (ms) of a packed row, from its header. */
export function rowEventTs(row: Uint8Array): number {
  return new DataView(row.buffer, row.byteOffset, row.byteLength).getFloat64(1, true);
}

/**
 * Rejects a batch whose rows do not line up with its keys or lack the header, or with a key over
 * MAX_ENTITY_KEY_BYTES: both stores refuse the same keys (LMDB could not hold longer ones).
 */
export function checkWriteBatch(
  field: string,
  ttlMillis: number,
  keys: readonly string[],
  rows: readonly Uint8Array[],
): void {
  const where = `write to field ${field}`;
  if (keys.length !== rows.length) {
    throw new TesseraError('INVALID_ARGUMENT', `${where}: ${keys.length} keys but ${rows.length} rows`);
  }
  if (!Number.isFinite(ttlMillis) || ttlMillis < 0) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${where}: ttlMillis must be >= 0 (0 = never expires), got ${ttlMillis}`,
    );
  }
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Uint8Array;
    if (row.byteLength < ROW_HEADER_BYTES) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `${where}: row ${i} (key ${quoteInput(keys[i] ?? '', 80)}) is ${row.byteLength} bytes, shorter than the ${ROW_HEADER_BYTES}-byte header`,
      );
    }
    const problem = entityKeyProblem(keys[i] as string);
    if (problem !== undefined) throw new TesseraError('INVALID_ARGUMENT', `${where}: row ${i}: ${problem}`);
  }
}
