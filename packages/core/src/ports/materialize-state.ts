/**
 * The materialization-state port: the last materialized point (an exclusive end, ms) of each view
 * version, from which an incremental Materialize continues. Kept beside the online rows (LMDB
 * embedded, one hash on the Redis Cluster otherwise), shared by every server of a deployment.
 */
export interface MaterializeState {
  /** The point recorded for `view` (`name@version`), if any. */
  get(view: string): Promise<number | undefined>;
  /** Records `endMillis` unless a later point is already recorded. */
  advance(view: string, endMillis: number): Promise<void>;
  close(): Promise<void>;
}
