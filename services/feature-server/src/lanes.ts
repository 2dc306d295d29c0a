/**
 * Lanes of offline work: interactive GetHistorical calls and Materialize runs each take a slot of
 * their own bounded lane, so neither queues behind the other, and a full lane answers
 * RESOURCE_EXHAUSTED at once instead of queueing. (The embedded outbox drain has its own chDB
 * connection; historical queries run on connections of their own, so they do not hold it up.)
 */
import { TesseraError } from '@tessera/core';

/** Calls one lane runs at once unless configured. */
export const DEFAULT_HISTORICAL_LANE_LIMIT = 4;
export const DEFAULT_MATERIALIZE_LANE_LIMIT = 2;

/** A bounded lane: at most `limit` calls inside at once. */
export class Lane {
  #active = 0;

  constructor(
    /** Named in the RESOURCE_EXHAUSTED message. */
    readonly name: string,
    readonly limit: number,
  ) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new TesseraError('INVALID_ARGUMENT', `the ${name} lane limit must be a positive integer, got ${limit}`);
    }
  }

  /** Calls inside now. */
  get active(): number {
    return this.#active;
  }

  /**
   * Takes a slot, or throws RESOURCE_EXHAUSTED naming the lane and its limit when all are taken.
   * Returns the release function (safe to call more than once).
   */
  enter(): () => void {
    if (this.#active >= this.limit) {
      throw new TesseraError(
        'RESOURCE_EXHAUSTED',
        `the ${this.name} lane is full (${this.limit} running at once); retry later`,
      );
    }
    this.#active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active -= 1;
    };
  }
}

/** The lanes of one server. */
export interface Lanes {
  readonly historical: Lane;
  readonly materialize: Lane;
}

/** Options of {@link createLanes}: calls each lane runs at once. */
export interface LaneOptions {
  readonly historical?: number;
  readonly materialize?: number;
}

/** The lanes of one server, with the given or default limits. */
export function createLanes(options: LaneOptions = {}): Lanes {
  return {
    historical: new Lane('historical', options.historical ?? DEFAULT_HISTORICAL_LANE_LIMIT),
    materialize: new Lane('materialize', options.materialize ?? DEFAULT_MATERIALIZE_LANE_LIMIT),
  };
}
