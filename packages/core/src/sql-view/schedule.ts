/**
 * The refresh intervals of SQL views (docs/design/window-aggregations.md §5.1): tick T refreshes
 * `[floor(T − delay, every) − every, floor(T − delay, every))` — whole periods aligned on the Unix
 * epoch (UTC), each refreshed once its end is `delay` in the past; a backfill computes whole UTC days.
 */
import type { SqlViewDef } from '../model.js';

const DAY_MILLIS = 86_400_000;

/** `floor(x, h)` for any integer x (negative too). */
function floorTo(x: number, h: number): number {
  return x - (((x % h) + h) % h);
}

/** The interval tick `tickMillis` refreshes. */
export function sqlViewRefreshInterval(
  def: Pick<SqlViewDef, 'everyMillis' | 'delayMillis'>,
  tickMillis: number,
): { startMillis: number; endMillis: number } {
  const endMillis = floorTo(tickMillis - def.delayMillis, def.everyMillis);
  return { startMillis: endMillis - def.everyMillis, endMillis };
}

/** [start, end) cut at UTC midnights: the days of a backfill, in order (the first and last may be partial). */
export function backfillDays(startMillis: number, endMillis: number): { startMillis: number; endMillis: number }[] {
  const days: { startMillis: number; endMillis: number }[] = [];
  for (let at = startMillis; at < endMillis;) {
    const next = Math.min(floorTo(at, DAY_MILLIS) + DAY_MILLIS, endMillis);
    days.push({ startMillis: at, endMillis: next });
    at = next;
  }
  return days;
}
