/**
 * `tessera dlq ls|show|replay|drop`: dead letters of the write-behind queue.
 */
import type { Command } from 'commander';
import { table } from '../format.js';
import type { ClientFactory } from '../command-options.js';

/** Registers `dlq` on the program. */
export function registerDlqCommand(program: Command, client: ClientFactory): void {
  const dlq = program
    .command('dlq')
    .description('dead letters: write-behind jobs that exhausted their retries (ls, show, replay, drop)');
  dlq
    .command('ls')
    .description('list dead letters')
    .option('--limit <n>', 'most to list', '100')
    .action(async (opts: { limit: string }) => {
      const c = client();
      try {
        const letters = await c.listDeadLetters(Number(opts.limit));
        if (letters.length === 0) {
          console.log('no dead letters');
          return;
        }
        console.log(
          table(
            ['id', 'view', 'rows', 'attempts', 'failed at', 'error'],
            letters.map((l) => [
              l.id,
              `${l.featureView}@${l.version}`,
              String(l.rowCount),
              String(l.attempts),
              new Date(Number(l.failedAtMillis)).toISOString(),
              l.error.length > 80 ? `${l.error.slice(0, 77)}...` : l.error,
            ]),
          ),
        );
      } finally {
        c.close();
      }
    });
  dlq
    .command('show')
    .description('show one dead letter with its whole error')
    .argument('<id>', 'dead letter id (from tessera dlq ls)')
    .action(async (id: string) => {
      const c = client();
      try {
        const l = await c.getDeadLetter(id);
        console.log(
          [
            `id:          ${l.id}`,
            `view:        ${l.featureView}@${l.version}`,
            `rows:        ${l.rowCount}`,
            `attempts:    ${l.attempts}`,
            `enqueued at: ${new Date(Number(l.enqueuedAtMillis)).toISOString()}`,
            `failed at:   ${new Date(Number(l.failedAtMillis)).toISOString()}`,
            `error:       ${l.error}`,
          ].join('\n'),
        );
      } finally {
        c.close();
      }
    });
  for (const [name, description, act] of [
    [
      'replay',
      'run a dead letter again (its original deduplication token: rows already in ClickHouse are not added twice)',
      'replayed',
    ],
    ['drop', 'delete a dead letter for good', 'dropped'],
  ] as const) {
    dlq
      .command(name)
      .description(description)
      .argument('<id>', 'dead letter id (from tessera dlq ls)')
      .action(async (id: string) => {
        const c = client();
        try {
          await (name === 'replay' ? c.replayDeadLetter(id) : c.dropDeadLetter(id));
          console.log(`${act} ${id}`);
        } finally {
          c.close();
        }
      });
  }
}
