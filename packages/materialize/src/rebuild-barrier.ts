/**
 * The barrier of a tile rebuild (design §3.6 step 2): the rebuild reads offline snapshots only once
 * no server can still fold an event into the served generation G alone, and every copy that did is
 * readable offline.
 *
 *  1. this server dual-writes at once; every other live server (cluster mode: its heartbeat) must
 *     acknowledge the rebuild — it re-reads the rebuild record every 2 s, and acknowledges once no
 *     write of it that began before is still in flight (such a write folded into G alone and may
 *     not have enqueued its offline rows yet). Embedded mode has one server: this one;
 *  2. then write-behind must hold no job enqueued before that moment (plus a clock-skew margin):
 *     every G-only copy has then been inserted offline, where the snapshot reads it.
 *
 * Both waits are bounded; a server that never acknowledges (its heartbeat expires a few seconds
 * after it dies) ends the rebuild with UNAVAILABLE naming it, and a rerun resumes.
 */
import { TesseraError, type RegisteredView, type ServerHeartbeats, type WriteBehindStats } from '@tessera/core';

/** How often a server re-reads the rebuild records and sends its heartbeat, ms. */
export const SERVER_HEARTBEAT_MILLIS = 2_000;
/** How long the barrier waits for every server and then for write-behind, each, ms. */
export const REBUILD_BARRIER_TIMEOUT_MILLIS = 60_000;
/** A heartbeat lives this long: a server that stops beating stops counting after it, ms. */
export const HEARTBEAT_TTL_MILLIS = 3 * SERVER_HEARTBEAT_MILLIS;

type ViewId = Pick<RegisteredView, 'id' | 'version'>;

/** What a server that writes events tells the barrier (the server's `TileGenerations`). */
export interface RebuildParticipant {
  /** This server dual-writes the rebuild of `view` into `generation` from now on. */
  startRebuild(view: ViewId, generation: number): void;
  /** No write of it that folded into the served generation alone is still in flight. */
  acknowledges(view: ViewId, generation: number): boolean;
  /** The labels (`rebuildAck`) of every rebuild it acknowledges, for its heartbeat. */
  acks(): string[];
}

/** What a server's heartbeat says for a rebuild of `view` into `generation` it acknowledges. */
export function rebuildAck(view: ViewId, generation: number): string {
  return `${view.id}.${view.version}:g${generation}`;
}
/** Servers' clocks may differ by this much when comparing job enqueue times, ms. */
export const BARRIER_CLOCK_MARGIN_MILLIS = 1_000;
const POLL_MILLIS = 100;

/** What the barrier needs of the process that runs the rebuild. */
export interface RebuildBarrierDeps {
  /** This process as a server that writes events (its id in the heartbeats); absent for a rebuild-only process. */
  readonly server?: { readonly id: string; readonly participant: RebuildParticipant };
  /** The deployment's write-behind queue depth (`WriteBehind.stats`). */
  readonly writeBehindStats: () => Promise<WriteBehindStats>;
  /** Cluster mode; absent embedded (one server: this one). */
  readonly heartbeats?: ServerHeartbeats;
  readonly timeoutMillis?: number;
  /**
   * Cluster mode: the least time the acknowledgement wait lasts, ms (default two refreshes and a
   * second): a server only counts once its heartbeat is seen, and one whose first beats failed is
   * invisible — by then every server that reads the state has seen the rebuild and dual-writes.
   */
  readonly visibilityMillis?: number;
}

/** Resolves once a rebuild of `view` into `generation` may read its snapshots (`rebuildViewAggregations`'s `barrier`). */
export type RebuildBarrier = (view: RegisteredView, generation: number, signal?: AbortSignal) => Promise<void>;

/** The barrier for `rebuildViewAggregations` (its `barrier` option). */
export function rebuildBarrier(deps: RebuildBarrierDeps): RebuildBarrier {
  const timeoutMillis = deps.timeoutMillis ?? REBUILD_BARRIER_TIMEOUT_MILLIS;
  return async (view, generation, signal) => {
    const label = `Materialize --aggregations ${view.name}@${view.version}`;
    const server = deps.server;
    server?.participant.startRebuild(view, generation);
    const ack = rebuildAck(view, generation);
    // (Found by test/e2e/rebuild-aggregations-cluster.test.ts: a server whose first heartbeats failed
    // wrote the served generation alone through a whole 1.6 s rebuild, and its events missed the new one.)
    const visibleFrom =
      Date.now() + (deps.heartbeats === undefined ? 0 : (deps.visibilityMillis ?? 2 * SERVER_HEARTBEAT_MILLIS + 1_000));
    let waitUntil = visibleFrom + timeoutMillis;
    let missing: string[] = [];
    for (;;) {
      if (aborted(signal)) return;
      const mine = server === undefined || server.participant.acknowledges(view, generation);
      if (deps.heartbeats === undefined) {
        if (mine) break;
        missing = ['this server (writes into the served generation alone still in flight)'];
      } else {
        try {
          if (mine && server !== undefined) {
            await deps.heartbeats.beat(server.id, server.participant.acks(), HEARTBEAT_TTL_MILLIS);
          }
          const live = await deps.heartbeats.live();
          missing = [...live].filter(([, acks]) => !acks.includes(ack)).map(([id]) => id);
          if (mine && missing.length === 0 && Date.now() >= visibleFrom) break;
        } catch (error) {
          // The heartbeats unreachable for a moment: asked again until the wait ends.
          missing = [`(heartbeats unreachable: ${(error as Error).message})`];
        }
      }
      if (Date.now() >= waitUntil) {
        throw new TesseraError(
          'UNAVAILABLE',
          `${label}: ${missing.length} server(s) did not acknowledge the rebuild into tile generation ${generation} within ${timeoutMillis} ms: ${missing.join(', ')}. Servers re-read it every ${SERVER_HEARTBEAT_MILLIS} ms and a dead server's heartbeat expires after ${HEARTBEAT_TTL_MILLIS} ms; rerun the same command to resume`,
        );
      }
      await sleep(POLL_MILLIS);
    }
    // Every G-only write has enqueued its offline rows by now; wait until they are inserted.
    // (Embedded: one clock, no margin.)
    const margin = deps.heartbeats === undefined ? 0 : BARRIER_CLOCK_MARGIN_MILLIS;
    const since = Date.now() + margin;
    waitUntil = since + timeoutMillis;
    for (;;) {
      if (aborted(signal)) return;
      const stats = await deps.writeBehindStats();
      const oldestEnqueued = Date.now() - stats.oldestPendingMillis;
      if (Date.now() >= since && (stats.pendingJobs === 0 || oldestEnqueued > since)) return;
      if (Date.now() >= waitUntil) {
        throw new TesseraError(
          'UNAVAILABLE',
          `${label}: write-behind still holds ${stats.pendingJobs} job(s), the oldest ${stats.oldestPendingMillis} ms old, after ${timeoutMillis} ms: the rebuild reads offline snapshots only once every write folded into the served generation alone is inserted offline; check the writers (tessera dlq for dead letters) and rerun the same command to resume`,
        );
      }
      await sleep(POLL_MILLIS);
    }
  };
}

/** A function, not an inline test: TS would narrow `signal.aborted` across the awaits between two tests. */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function sleep(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, millis));
}
