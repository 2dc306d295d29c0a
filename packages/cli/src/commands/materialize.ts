/**
 * `tessera materialize`: copies the latest offline values of views to the online store.
 */
import type { Command } from 'commander';
import { TesseraError } from '@tessera/core/basics';
import { Progress } from '../progress.js';
import { timestampOption, type ClientFactory } from '../command-options.js';

/** Registers `materialize` on the program. */
export function registerMaterializeCommand(program: Command, client: ClientFactory): void {
  program
    .command('materialize')
    .description(
      'copy the latest offline values of feature views to the online store (never over fresher online values)',
    )
    .argument('<views...>', 'feature views, "name" or "name@version"')
    .option('--start <time>', 'events at or after this time (RFC 3339, a date or epoch ms)')
    .option('--end <time>', 'events before this time (default: now)')
    .option('--incremental', 'from where the previous run of each view ended, up to now')
    .option(
      '--aggregations',
      'rebuild the online window-aggregation tiles of event views from all their offline events (resumable: run it again after an interruption)',
    )
    .action(
      async (
        views: string[],
        opts: { start?: string; end?: string; incremental?: boolean; aggregations?: boolean },
      ) => {
        if (opts.aggregations) {
          if (opts.incremental || opts.start !== undefined || opts.end !== undefined) {
            throw new TesseraError(
              'INVALID_ARGUMENT',
              '--aggregations takes no --start, --end or --incremental: a rebuild reads every event of the view',
            );
          }
          await rebuildAggregations(client, views);
          return;
        }
        if (opts.incremental && (opts.start !== undefined || opts.end !== undefined)) {
          throw new TesseraError(
            'INVALID_ARGUMENT',
            '--incremental takes no --start or --end: it continues from the last run',
          );
        }
        if (!opts.incremental && opts.start === undefined) {
          throw new TesseraError('INVALID_ARGUMENT', 'give --start (and optionally --end), or --incremental');
        }
        const c = client();
        try {
          const progress = new Progress(undefined, 'entities read');
          const finals = await c.materialize(
            {
              featureViews: views,
              incremental: opts.incremental ?? false,
              ...(opts.start === undefined ? {} : { startMillis: timestampOption(opts.start, '--start') }),
              ...(opts.end === undefined ? {} : { endMillis: timestampOption(opts.end, '--end') }),
            },
            (p) => progress.set(Number(p.rowsRead)),
          );
          progress.done();
          for (const p of finals) {
            console.log(
              `materialized ${p.featureView}: ${p.rowsRead} entities read, ${p.rowsWritten} written online, ` +
                `${p.rowsRead - p.rowsWritten} kept (fresher online)`,
            );
          }
        } finally {
          c.close();
        }
      },
    );
}

/** `tessera materialize --aggregations VIEW…`: the tile rebuild, parts and entities as it goes. */
async function rebuildAggregations(client: ClientFactory, views: readonly string[]): Promise<void> {
  const c = client();
  try {
    const progress = new Progress(undefined, 'events read');
    const finals = await c.materialize({ featureViews: views, aggregations: true }, (p) =>
      progress.set(Number(p.rowsRead)),
    );
    progress.done();
    for (const p of finals) {
      console.log(
        `rebuilt ${p.featureView} aggregations: ${p.rowsRead} events read, ${p.rowsWritten} entities written ` +
          `(${p.partsDone}/${p.parts} parts); serving the new tiles`,
      );
    }
  } finally {
    c.close();
  }
}
