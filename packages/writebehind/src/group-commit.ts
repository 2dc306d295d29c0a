/**
 * Group commit: items of one key are flushed together, and every `add` settles with the outcome of
 * the flush that carried its item. A key's first item is flushed on the next turn of the event loop
 * (with whatever arrived in the same turn), so a lone write waits for nothing; items that arrive
 * while a flush of their key is in flight wait for it and go together in the next one, so batches
 * grow with the load. A buffer is also flushed at once when it holds `maxRows` rows, and after
 * `maxDelayMillis` however busy its key is.
 */

import { TesseraError } from '@tessera/core';

export interface GroupCommitLimits {
  /** Rows after which a buffer is flushed at once. */
  readonly maxRows: number;
  /** Longest an item waits behind a flush in flight before it is flushed anyway, ms. */
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
  scheduled: boolean;
}

export class GroupCommit<T> {
  readonly #flush: (key: string, items: T[]) => Promise<void>;
  readonly #limits: GroupCommitLimits;
  readonly #buffers = new Map<string, Buffer<T>>();
  /** Flushes in flight per key. */
  readonly #flying = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(flush: (key: string, items: T[]) => Promise<void>, limits: GroupCommitLimits) {
    this.#flush = flush;
    this.#limits = limits;
  }

  /** Resolves once the flush carrying `item` succeeded; rejects with its error. */
  add(key: string, item: T, rows: number): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new TesseraError('UNAVAILABLE', 'write-behind: the server is shutting down; retry the write'),
      );
    }
    return new Promise<void>((resolve, reject) => {
      let buffer = this.#buffers.get(key);
      if (buffer === undefined) {
        buffer = { pending: [], rows: 0, timer: undefined, scheduled: false };
        this.#buffers.set(key, buffer);
        const created = buffer;
        created.timer = setTimeout(() => this.#flushBuffer(key, created), this.#limits.maxDelayMillis);
      }
      buffer.pending.push({ item, resolve, reject });
      buffer.rows += rows;
      if (buffer.rows >= this.#limits.maxRows) this.#flushBuffer(key, buffer);
      else if (!this.#flying.has(key)) this.#schedule(key, buffer);
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

  /** Flushes `buffer` on the next turn of the event loop (items added in this turn join it). */
  #schedule(key: string, buffer: Buffer<T>): void {
    if (buffer.scheduled) return;
    buffer.scheduled = true;
    setImmediate(() => this.#flushBuffer(key, buffer));
  }

  #flushBuffer(key: string, buffer: Buffer<T>): void {
    if (this.#buffers.get(key) !== buffer) return;
    this.#buffers.delete(key);
    clearTimeout(buffer.timer);
    const { pending } = buffer;
    this.#flying.set(key, (this.#flying.get(key) ?? 0) + 1);
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
    void flight.finally(() => {
      this.#inFlight.delete(flight);
      const left = (this.#flying.get(key) ?? 1) - 1;
      if (left > 0) this.#flying.set(key, left);
      else this.#flying.delete(key);
      // What gathered behind this flush goes now.
      const next = this.#buffers.get(key);
      if (next !== undefined && left === 0) this.#schedule(key, next);
    });
  }
}
