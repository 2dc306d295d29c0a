/**
 * The materialization-queue port: in cluster mode a Materialize call runs as parts on the writers
 * (which hold the ClickHouse connection); the server that took the call enqueues the parts and
 * follows their progress. Implemented by `@tessera/writebehind` on BullMQ.
 */

/** Rows read from the offline store and written online so far. */
export interface MaterializeCounts {
  readonly rowsRead: number;
  readonly rowsWritten: number;
}

/** One view version to materialize over [startMillis, endMillis). */
export interface MaterializeViewRequest {
  readonly view: string;
  readonly version: number;
  readonly startMillis: number;
  readonly endMillis: number;
}

/** Progress of one view across its parts; `done` once every part completed. */
export interface MaterializeViewProgress extends MaterializeCounts {
  readonly view: string;
  readonly version: number;
  readonly done: boolean;
}

/** Runs materializations elsewhere and reports their progress. */
export interface MaterializeQueue {
  /**
   * Runs `views` (in order) and yields their progress as it moves; throws with the error of a part
   * that failed for good. `signal` stops following (the parts go on).
   */
  run(views: readonly MaterializeViewRequest[], signal?: AbortSignal): AsyncIterable<MaterializeViewProgress>;
  close(): Promise<void>;
}
