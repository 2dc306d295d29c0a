/**
 * Group commit: items added under the same key within a short window are flushed together, and
 * every `add` settles with the outcome of the flush that carried its item. A buffer is flushed when
 * it holds `maxRows` rows or its oldest item has waited `maxDelayMillis`, whichever comes first.
 */

export interface GroupCommitLimits {
  /** Rows after which a buffer is flushed at once. */
  readonly maxRows: number;
  /** Longest an item waits for company, ms (0 = flush on the next turn of the event loop). */
  readonly maxDelayMillis: number;
}

interface Pending<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Buffer<T> {
  readonly pending: Pending<T>[];
  rows: number;
  timer: NodeJS.Timeout | undefined;
}

export class GroupCommit<T> {
  readonly #flush: (key: string, items: T[]) => Promise<void>;
  readonly #limits: GroupCommitLimits;
  readonly #buffers = new Map<string, Buffer<T>>();
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(flush: (key: string, items: T[]) => Promise<void>, limits: GroupCommitLimits) {
    this.#flush = flush;
    this.#limits = limits;
  }

  /** Resolves once the flush carrying `item` succeeded; rejects with its error. */
  add(key: string, item: T, rows: number): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('group commit: closed'));
    return new Promise<void>((resolve, reject) => {
      let buffer = this.#buffers.get(key);
      if (buffer === undefined) {
        buffer = { pending: [], rows: 0, timer: undefined };
        this.#buffers.set(key, buffer);
        const created = buffer;
        created.timer = setTimeout(() => this.#flushBuffer(key, created), this.#limits.maxDelayMillis);
      }
      buffer.pending.push({ item, resolve, reject });
      buffer.rows += rows;
      if (buffer.rows >= this.#limits.maxRows) this.#flushBuffer(key, buffer);
    });
  }

  /** Items waiting in buffers (not yet handed to a flush). */
  get buffered(): number {
    let count = 0;
    for (const buffer of this.#buffers.values()) count += buffer.pending.length;
    return count;
  }

  /** Flushes every buffer now and waits for every flush in flight; later adds are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [key, buffer] of [...this.#buffers]) this.#flushBuffer(key, buffer);
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #flushBuffer(key: string, buffer: Buffer<T>): void {
    if (this.#buffers.get(key) !== buffer) return;
    this.#buffers.delete(key);
    clearTimeout(buffer.timer);
    const { pending } = buffer;
    const flight = (async () => {
      try {
        await this.#flush(
          key,
          pending.map((p) => p.item),
        );
        for (const p of pending) p.resolve();
      } catch (error) {
        for (const p of pending) p.reject(error);
      }
    })();
    this.#inFlight.add(flight);
    void flight.finally(() => this.#inFlight.delete(flight));
  }
}
