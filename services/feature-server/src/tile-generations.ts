/**
 * Which tile generation of each event view version this server reads and writes (design §3.6):
 * 1 until `tessera materialize --aggregations` completes a rebuild, then the rebuilt one. The
 * generation is recorded in the MaterializeState port (shared by every server of a deployment);
 * this server keeps a copy it refreshes on a timer (cluster mode: another server's switch is seen
 * within one interval) and updates at once when it switches a view itself.
 */
import { isEventView, type MaterializeState, type RegisteredView } from '@tessera/core';
import { servedGeneration } from '@tessera/materialize';
import { CURRENT_GENERATION } from './view-aggregations.js';

/** How often a server re-reads the served generations of its event views, ms. */
export const TILE_GENERATION_REFRESH_MILLIS = 2_000;

/** The served tile generation of each event view version, as this server last read it. */
export class TileGenerations {
  readonly #byView = new Map<string, number>();

  /** The generation reads and writes of `view` use (1 when none was recorded). */
  of(view: Pick<RegisteredView, 'id' | 'version'>): number {
    return this.#byView.get(`${view.id}.${view.version}`) ?? CURRENT_GENERATION;
  }

  /** Records a generation this server switched to (never moves back). */
  set(view: Pick<RegisteredView, 'id' | 'version'>, generation: number): void {
    const key = `${view.id}.${view.version}`;
    if (generation > (this.#byView.get(key) ?? CURRENT_GENERATION)) this.#byView.set(key, generation);
  }

  /** Re-reads the recorded generation of every event view version with aggregations. */
  async refresh(state: MaterializeState, views: Iterable<RegisteredView>): Promise<void> {
    for (const view of views) {
      if (!isEventView(view) || (view.aggregations?.length ?? 0) === 0) continue;
      this.set(view, await servedGeneration(state, view));
    }
  }
}
