import { TesseraError } from '@tessera/core';

/** Resolves after `millis` (at most until the deadline); never keeps the process alive. */
export function sleep(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, millis)).unref());
}

/**
 * Runs `work` but gives up at the absolute `deadlineMillis` with DEADLINE_EXCEEDED. The work
 * itself is not cancelled (Redis commands cannot be): its late result is ignored.
 */
export async function withDeadline<T>(work: Promise<T>, deadlineMillis: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TesseraError('DEADLINE_EXCEEDED', `${what}: deadline passed before the store answered`)),
      Math.max(0, deadlineMillis - Date.now()),
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
