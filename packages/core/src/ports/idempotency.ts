/**
 * The idempotency-key port of Write: the same key within the retention window returns the first
 * result and writes nothing again. A key is first claimed (pending, short-lived), then completed with
 * the result; a failed write releases it so the client may retry. Implemented beside the online rows
 * (LMDB embedded, Redis Cluster otherwise).
 */

/** The result recorded for a key (the Write's response, as numbers). */
export interface RecordedResult {
  readonly rows: string;
  readonly rowsAppliedOnline: string;
  readonly rowsStaleOnline: string;
  /** Event views (absent in results recorded before they existed = 0). */
  readonly rowsExcludedLate?: string;
  readonly rowsExcludedFuture?: string;
  /** Events already seen online (absent in results recorded before it was counted = 0). */
  readonly rowsDuplicateEvents?: string;
}

/** What holds a key when a request claims it. */
export type IdempotencyClaim =
  | { readonly kind: 'new' }
  | { readonly kind: 'done'; readonly result: RecordedResult }
  | { readonly kind: 'pending' }
  | { readonly kind: 'mismatch' };

/** Where idempotency keys are claimed and their results recorded. */
export interface IdempotencyStore {
  /** Claims `key` for a request with `digest`, or reports what holds it. */
  claim(key: string, digest: string): Promise<IdempotencyClaim>;
  /** Records the result of the claimed request for the retention window. */
  complete(key: string, digest: string, result: RecordedResult): Promise<void>;
  /** Gives the claim of the request with `digest` up (its write failed): the key is free again. */
  release(key: string, digest: string): Promise<void>;
  close(): Promise<void>;
}
