/**
 * `tessera backfill NAME --from --to`: computes an SQL view's rows over a range, day by day, with
 * its SELECT, then copies them online (design §5.1). It is a Materialize of the SQL view: the
 * server computes the days (progress `sql:<view>@<n>`: days done of days total), a rerun of the same
 * range continues after the last whole day, and the online copy reports as any view's.
 * Only light modules load here (the client is given); see packages/cli/test/startup.test.ts.
 */
import type { Command } from 'commander';
import { Progress } from '../progress.js';
import { timestampOption, type ClientFactory } from '../command-options.js';

/** Registers `backfill` on the program. */
export function registerBackfillCommand(program: Command, client: ClientFactory): void {
  program
    .command('backfill')
    .description('compute an SQL view over a time range (by day, resumable) with its SELECT, then copy it online')
    .argument('<view>', 'the SQL view, "name" or "name@version"')
    .requiredOption('--from <time>', 'events at or after this time (RFC 3339, a date or epoch ms)')
    .requiredOption('--to <time>', 'events before this time')
    .action(async (view: string, opts: { from: string; to: string }) => {
      const c = client();
      try {
        let progress: Progress | undefined;
        let online: Progress | undefined;
        const finals = await c.materialize(
          {
            featureViews: [view],
            incremental: false,
            startMillis: timestampOption(opts.from, '--from'),
            endMillis: timestampOption(opts.to, '--to'),
          },
          (p) => {
            if (p.featureView.startsWith('sql:')) {
              progress ??= new Progress(Number(p.rowsWritten), 'days computed');
              progress.set(Number(p.rowsRead));
            } else {
              progress?.done();
              progress = undefined;
              online ??= new Progress(undefined, 'entities copied online');
              online.set(Number(p.rowsRead));
            }
          },
        );
        online?.done();
        for (const p of finals) {
          console.log(
            `backfilled ${p.featureView}: ${p.rowsRead} entities read, ${p.rowsWritten} written online, ` +
              `${p.rowsRead - p.rowsWritten} kept (fresher online)`,
          );
        }
      } finally {
        c.close();
      }
    });
}
