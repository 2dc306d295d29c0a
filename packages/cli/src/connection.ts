/**
 * How the CLI reaches a server and proves who it is: TLS files from flags or the environment, the API
 * key from the environment or a file — never from argv, where every user of the machine can read it.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { TesseraError } from '@tessera/core/basics';
import type { TesseraClientOptions } from '@tessera/client';

/** Global options every client command understands. */
export interface ConnectionFlags {
  readonly apiKeyFile?: string;
  readonly caFile?: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
  readonly tls?: boolean;
}

/** Adds the connection options to the program. */
export function addConnectionOptions(program: Command): Command {
  return program
    .addOption(
      new Option('--api-key-file <path>', 'file holding the API key (or set TESSERA_API_KEY)').env(
        'TESSERA_API_KEY_FILE',
      ),
    )
    .addOption(
      new Option('--tls', 'connect with TLS, trusting the system CAs (implied by --ca-file)').env('TESSERA_TLS'),
    )
    .addOption(new Option('--ca-file <path>', 'CA certificate of the server (TLS)').env('TESSERA_TLS_CA'))
    .addOption(new Option('--client-cert <path>', 'client certificate (mTLS)').env('TESSERA_TLS_CLIENT_CERT'))
    .addOption(new Option('--client-key <path>', 'client private key (mTLS)').env('TESSERA_TLS_CLIENT_KEY'));
}

/** The API key: TESSERA_API_KEY, else the file named by --api-key-file; undefined when neither. */
export function readApiKey(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env['TESSERA_API_KEY']?.trim();
  if (fromEnv) return fromEnv;
  if (flags.apiKeyFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(flags.apiKeyFile, 'utf8');
  } catch (error) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `--api-key-file: cannot read ${flags.apiKeyFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const key = text.trim();
  if (key === '') throw new TesseraError('INVALID_ARGUMENT', `--api-key-file: ${flags.apiKeyFile} is empty`);
  return key;
}

/** Client options for `address` from the global flags. */
export function clientOptions(address: string, timeoutMillis: number, flags: ConnectionFlags): TesseraClientOptions {
  if ((flags.clientCert === undefined) !== (flags.clientKey === undefined)) {
    throw new TesseraError('INVALID_ARGUMENT', '--client-cert and --client-key go together (mTLS)');
  }
  const useTls = flags.tls === true || flags.caFile !== undefined || flags.clientCert !== undefined;
  const apiKey = readApiKey(flags);
  return {
    address,
    timeoutMillis,
    ...(apiKey === undefined ? {} : { apiKey }),
    ...(useTls
      ? {
          tls: {
            ...(flags.caFile === undefined ? {} : { caFile: flags.caFile }),
            ...(flags.clientCert === undefined ? {} : { certFile: flags.clientCert }),
            ...(flags.clientKey === undefined ? {} : { keyFile: flags.clientKey }),
          },
        }
      : {}),
  };
}

/**
 * Refuses a ClickHouse URL carrying a password on the command line (visible in `ps`): it must come from
 * TESSERA_CLICKHOUSE_URL instead.
 */
export function checkNoSecretInArgv(command: Command, optionName: string, flag: string, envName: string): void {
  const value: unknown = command.getOptionValue(optionName);
  if (typeof value !== 'string' || command.getOptionValueSource(optionName) !== 'cli') return;
  let password = '';
  try {
    password = new URL(value).password;
  } catch {
    return; // not a URL: the store reports it
  }
  if (password !== '') {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${flag} carries a password, which every user of this machine can read in the process list: ` +
        `set ${envName} instead`,
    );
  }
}
