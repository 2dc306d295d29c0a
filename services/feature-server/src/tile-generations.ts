/**
 * Which tile generation of each event view version this server reads and writes (design §3.6):
 * 1 until `tessera materialize --aggregations` completes a rebuild, then the rebuilt one. The
 * generation is recorded in the MaterializeState port (shared by every server of a deployment);
 * this server keeps a copy it refreshes on a timer (cluster mode: another server's switch is seen
 * within one interval) and updates at once when it switches a view itself.
 *
 * A rebuild in progress (G → G+1) is recorded in the same port (its `now`, written by its first
 * run); once this server sees it, its writes fold into G and G+1 (dual write, §3.6 step 1). It
 * acknowledges the rebuild (`acks`, reported in its heartbeat) once no write that began before it
 * saw the rebuild — a write into G alone — is still in flight.
 */
import { isEventView, type MaterializeState, type RegisteredView, type ServerHeartbeats } from '@tessera/core';
import {
  HEARTBEAT_TTL_MILLIS,
  SERVER_HEARTBEAT_MILLIS,
  rebuildAck,
  rebuildStateKeys,
  servedGeneration,
  type RebuildParticipant,
} from '@tessera/materialize';
import { CURRENT_GENERATION } from './view-aggregations.js';

/** How often a server re-reads the served generations of its event views, ms. */
export const TILE_GENERATION_REFRESH_MILLIS = SERVER_HEARTBEAT_MILLIS;

/** A write in flight: the generations it folds into; `done` once it answered (or failed). */
export interface InFlightWrite {
  readonly generation: number;
  /** A rebuild into `generation + 1` runs and this server saw it: fold into both. */
  readonly dualWrite: boolean;
  done(): void;
}

type ViewId = Pick<RegisteredView, 'id' | 'version'>;

/** The served tile generation of each event view version, as this server last read it. */
export class TileGenerations implements RebuildParticipant {
  readonly #byView = new Map<string, number>();
  /** View version → the generation a rebuild in progress targets (served + 1). */
  readonly #rebuilding = new Map<string, number>();
  /** View version → writes in flight that fold into the served generation alone. */
  readonly #singleInFlight = new Map<string, number>();

  /** The generation reads and writes of `view` use (1 when none was recorded). */
  of(view: ViewId): number {
    return this.#byView.get(keyOf(view)) ?? CURRENT_GENERATION;
  }

  /** The generations a write of `view` folds into, counted in flight until `done`. */
  beginWrite(view: ViewId): InFlightWrite {
    const key = keyOf(view);
    const generation = this.of(view);
    const dualWrite = this.#rebuilding.get(key) === generation + 1;
    if (dualWrite) return { generation, dualWrite, done: () => undefined };
    this.#singleInFlight.set(key, (this.#singleInFlight.get(key) ?? 0) + 1);
    let open = true;
    return {
      generation,
      dualWrite,
      done: () => {
        if (!open) return;
        open = false;
        const left = (this.#singleInFlight.get(key) ?? 1) - 1;
        if (left === 0) this.#singleInFlight.delete(key);
        else this.#singleInFlight.set(key, left);
      },
    };
  }

  /** Records a generation this server switched to (never moves back). */
  set(view: ViewId, generation: number): void {
    const key = keyOf(view);
    if (generation > (this.#byView.get(key) ?? CURRENT_GENERATION)) this.#byView.set(key, generation);
    if ((this.#rebuilding.get(key) ?? 0) <= this.of(view)) this.#rebuilding.delete(key);
  }

  /** Records a rebuild into `generation` this server runs (its writes dual-write from now on). */
  startRebuild(view: ViewId, generation: number): void {
    if (generation === this.of(view) + 1) this.#rebuilding.set(keyOf(view), generation);
  }

  /** The rebuild `view` → `generation` is acknowledged by this server (see the file comment). */
  acknowledges(view: ViewId, generation: number): boolean {
    const key = keyOf(view);
    return this.#rebuilding.get(key) === generation && !this.#singleInFlight.has(key);
  }

  /** The labels of every rebuild this server acknowledges, for its heartbeat. */
  acks(): string[] {
    const out: string[] = [];
    for (const [key, generation] of this.#rebuilding) {
      if (!this.#singleInFlight.has(key)) out.push(rebuildAck(idOf(key), generation));
    }
    return out;
  }

  /** Re-reads the recorded generation and any rebuild in progress of every event view version with aggregations. */
  async refresh(state: MaterializeState, views: Iterable<RegisteredView>): Promise<void> {
    for (const view of views) {
      if (!isEventView(view) || (view.aggregations?.length ?? 0) === 0) continue;
      this.set(view, await servedGeneration(state, view));
      const target = this.of(view) + 1;
      if ((await state.get(rebuildStateKeys(view, target).now)) !== undefined) this.startRebuild(view, target);
    }
  }
}

/** The view version a key of `keyOf` names. */
function idOf(key: string): ViewId {
  const dot = key.lastIndexOf('.');
  return { id: Number(key.slice(0, dot)), version: Number(key.slice(dot + 1)) };
}

function keyOf(view: ViewId): string {
  return `${view.id}.${view.version}`;
}

/**
 * Reads `generations` now and every {@link TILE_GENERATION_REFRESH_MILLIS}; in cluster mode a heartbeat
 * after each read says which rebuilds this server acknowledges. The first heartbeat (no acks) goes out
 * before the first read: a rebuild recorded between that read and a later first heartbeat would pass
 * its barrier without waiting for this server, which would write one generation only. A failed read
 * or heartbeat is retried at the next interval (never stops the server). Returns the timer's stop.
 */
export async function keepTileGenerationsFresh(options: {
  readonly generations: TileGenerations;
  readonly state: MaterializeState;
  readonly views: () => Iterable<RegisteredView>;
  readonly serverId: string;
  readonly heartbeats?: ServerHeartbeats;
  readonly warn: (error: unknown, message: string) => void;
}): Promise<() => void> {
  const { generations, heartbeats, serverId, warn } = options;
  const beat = async (acks: readonly string[]): Promise<void> => {
    await heartbeats
      ?.beat(serverId, acks, HEARTBEAT_TTL_MILLIS)
      .catch((error: unknown) => warn(error, 'server heartbeat failed; retrying on the next interval'));
  };
  const refresh = async (): Promise<void> => {
    await generations.refresh(options.state, options.views());
    await beat(generations.acks());
  };
  await beat([]);
  await refresh();
  const timer = setInterval(() => {
    refresh().catch((error: unknown) => warn(error, 'tile generations: refresh failed; retrying on the next interval'));
  }, TILE_GENERATION_REFRESH_MILLIS);
  timer.unref();
  return () => clearInterval(timer);
}
