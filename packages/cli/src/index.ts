/**
 * The `tessera` command line: assembles the program from one module per command (commands/) and
 * turns errors into exit codes — 1 for a failed command, 2 for a configuration that does not validate.
 */
import { Command, Option } from 'commander';
import { formatProblems, isTesseraError } from '@tessera/core/basics';
import { TesseraClient } from '@tessera/client';
import { addConnectionOptions, clientOptions, type ConnectionFlags } from './connection.js';
import { DEFAULT_SERVER, type ClientFactory } from './command-options.js';
import { isConfigurationFailure } from './deployment.js';
import { registerServeCommand } from './commands/serve.js';
import { registerWriterCommand } from './commands/writer.js';
import { registerOfflineServerCommand } from './commands/offline-server.js';
import { registerConfigCommand } from './commands/config.js';
import { registerMaterializeCommand } from './commands/materialize.js';
import { registerQueueCommand } from './commands/queue.js';
import { registerDlqCommand } from './commands/dlq.js';
import { registerApplyCommand } from './commands/apply.js';
import { registerWriteCommand } from './commands/write.js';
import { registerGetCommand } from './commands/get.js';
import { registerHistoricalCommand } from './commands/historical.js';
import { registerLsCommand } from './commands/ls.js';
import { registerKeysCommand } from './commands/keys.js';
import { registerImportCommand } from './commands/import.js';
import { registerBackfillCommand } from './commands/backfill.js';

/** Exit code of a configuration that does not validate (every problem is printed). */
export const CONFIGURATION_EXIT_CODE = 2;

/** Runs the `tessera` command line; resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('tessera')
    .description('Tessera feature store: define, apply, write and serve ML features')
    .addOption(
      new Option('--server <host:port>', 'feature server to talk to').env('TESSERA_SERVER').default(DEFAULT_SERVER),
    )
    .option('--timeout <ms>', 'deadline of each call in milliseconds', '30000')
    .showHelpAfterError();
  addConnectionOptions(program);

  const client: ClientFactory = () => {
    const opts = program.opts<{ server: string; timeout: string } & ConnectionFlags>();
    return new TesseraClient(clientOptions(opts.server, Number(opts.timeout), opts));
  };

  registerServeCommand(program);
  registerWriterCommand(program);
  registerOfflineServerCommand(program);
  registerMaterializeCommand(program, client);
  registerBackfillCommand(program, client);
  registerQueueCommand(program, client);
  registerDlqCommand(program, client);
  registerApplyCommand(program, client);
  registerWriteCommand(program, client);
  registerGetCommand(program, client);
  registerHistoricalCommand(program, client);
  registerLsCommand(program, client);
  registerKeysCommand(program, client);
  registerConfigCommand(program);
  registerImportCommand(program);

  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (isConfigurationFailure(error) && isTesseraError(error)) {
      console.error(`tessera: ${error.message}`);
      console.error(formatProblems(error.details));
      return CONFIGURATION_EXIT_CODE;
    }
    if (isTesseraError(error)) {
      console.error(`tessera: ${error.code}: ${error.message}`);
      if (error.details.length > 1 && !error.message.includes('\n')) console.error(formatProblems(error.details));
    } else {
      console.error(`tessera: ${(error as Error).message}`);
    }
    return 1;
  }
}
