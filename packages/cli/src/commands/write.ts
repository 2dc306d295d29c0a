/**
 * `tessera write`: writes the rows of a CSV, JSONL or Parquet file to a feature view.
 */
import { Option, type Command } from 'commander';
import { TesseraError } from '@tessera/core/basics';
import { DEFAULT_TIMESTAMP_COLUMN, type ClientFactory } from '../command-options.js';

/** Registers `write` on the program. */
export function registerWriteCommand(program: Command, client: ClientFactory): void {
  program
    .command('write')
    .description('write rows from a CSV (header row), JSONL or Parquet file to a feature view')
    .argument('<view>', 'feature view, "name" or "name@version"')
    .argument('<file>', '.csv, .jsonl or .parquet file: join keys, event_ts, features')
    .addOption(
      new Option('--target <target>', 'where the rows go').choices(['both', 'online', 'offline']).default('both'),
    )
    .option('--timestamp-column <name>', "column holding each row's event time", DEFAULT_TIMESTAMP_COLUMN)
    .option('--batch-rows <n>', 'rows per streamed message', '5000')
    .option('--replicated', 'acknowledge only once a Redis replica has each write (WAIT 1)')
    .option('--sync', 'answer only once the rows are in the offline store (default: write-behind)')
    .action(
      async (
        viewRef: string,
        file: string,
        opts: {
          timestampColumn: string;
          batchRows: string;
          replicated?: boolean;
          sync?: boolean;
          target: 'both' | 'online' | 'offline';
        },
      ) => {
        if (opts.sync && opts.replicated) {
          throw new TesseraError(
            'INVALID_ARGUMENT',
            '--sync and --replicated cannot be combined: choose one durability',
          );
        }
        const { writeFile } = await import('../write-file.js');
        const c = client();
        try {
          const result = await writeFile(c, viewRef, file, {
            batchRows: Number(opts.batchRows),
            timestampColumn: opts.timestampColumn,
            durability: opts.sync ? 'sync' : opts.replicated ? 'replicated' : 'write-behind',
            target: opts.target,
          });
          console.log(result);
        } finally {
          c.close();
        }
      },
    );
}
