import { readdir, readFile } from 'node:fs/promises';

/**
 * Whether `pid` is still running. A zombie counts as gone: PID 1 on these machines does not reap
 * daemonized children, so a killed redis-server stays in the process table as `Z` forever while
 * `kill(pid, 0)` still succeeds on it. Every thread is checked, not only the leader: the leader of a
 * multi-threaded process turns `Z` before its other threads exit, and the sockets (the ports) are only
 * released with the last thread.
 */
export async function isProcessAlive(pid: number): Promise<boolean> {
  if (process.platform !== 'linux') return canSignal(pid);
  let threadIds: string[];
  try {
    threadIds = await readdir(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  for (const threadId of threadIds) {
    try {
      const stat = await readFile(`/proc/${pid}/task/${threadId}/stat`, 'utf8');
      // The state letter follows the command name, which is in parentheses and may itself hold spaces.
      const state = stat.charAt(stat.lastIndexOf(')') + 2);
      if (state !== 'Z' && state !== 'X') return true;
    } catch {
      // this thread exited while we looked
    }
  }
  return false;
}

function canSignal(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves after `millis`. */
export function sleep(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, millis));
}

/** Polls `condition` every `intervalMillis` until it holds; false when `timeoutMillis` passed first. */
export async function pollUntil(
  condition: () => Promise<boolean>,
  timeoutMillis: number,
  intervalMillis = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMillis);
  }
}
