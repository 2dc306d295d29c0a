/**
 * `tessera queue`: the write-behind queue's figures.
 */
import type { Command } from 'commander';
import { keyValueLines } from '../format.js';
import type { ClientFactory } from '../command-options.js';

/** Registers `queue` on the program. */
export function registerQueueCommand(program: Command, client: ClientFactory): void {
  program
    .command('queue')
    .description('show the write-behind queue: pending jobs, offline lag, dead letters')
    .action(async () => {
      const c = client();
      try {
        const stats = await c.writeBehindStats();
        const rows = [
          ['pending jobs', String(stats.pendingJobs)],
          ...(stats.pendingRows === undefined ? [] : [['pending rows', String(stats.pendingRows)]]),
          ['offline lag', `${stats.oldestPendingMillis} ms`],
          ['dead letters', String(stats.deadLetters)],
          ...(stats.insertMillis
            ? [
                [
                  'inserts',
                  `${stats.inserted} (p50 ${stats.insertMillis.p50.toFixed(1)} ms, p99 ${stats.insertMillis.p99.toFixed(1)} ms)`,
                ],
              ]
            : []),
        ];
        console.log(keyValueLines(rows));
      } finally {
        c.close();
      }
    });
}
