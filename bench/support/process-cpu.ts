import { readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc times (USER_HZ): 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

/**
 * CPU time a process has used so far, ms (user + system, all its threads), from /proc/<pid>/stat;
 * undefined where there is no /proc. Resolution 10 ms: read it around thousands of calls, not one.
 */
export async function processCpuMillis(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined;
}
