import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { TesseraClient } from '@tessera/client';

/** The repository's root (this file is packages/testkit/{src,dist}/cli-process.*). */
export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');

/** A `tessera` command running as a child process (a server or a writer), to be killed like a real one. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first match of `pattern` in its output; rejects if it exits first or after `timeoutMillis`. */
  waitFor(pattern: RegExp, timeoutMillis?: number): Promise<RegExpExecArray>;
  /** Sends `signal` and resolves once the process has exited. */
  stop(signal: NodeJS.Signals): Promise<void>;
}

/** Where `startCli` finds the command and what environment it passes on. */
export interface StartCliOptions {
  /** Folder holding `packages/cli/bin/tessera.js`, also the working directory (default: the repository). */
  readonly root?: string;
  /** Pass `env` alone instead of adding it to this process's environment (default false). */
  readonly replaceEnv?: boolean;
}

/**
 * `node <root>/packages/cli/bin/tessera.js <args>` as a child process, from the repository or (with
 * `options.root`) from a production bundle.
 */
export function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  options: StartCliOptions = {},
): CliProcess {
  const root = options.root ?? REPO_ROOT;
  const child = spawn('node', [join(root, 'packages', 'cli', 'bin', 'tessera.js'), ...args], {
    cwd: root,
    env: options.replaceEnv === true ? env : { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    waitFor: (pattern, timeoutMillis = 60_000) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(out);
          if (match) {
            done();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${String(pattern)} within ${timeoutMillis} ms; output:\n${out}`));
        }, timeoutMillis);
        const onExit = (): void => {
          done();
          reject(new Error(`tessera ${args[0] ?? ''} exited before printing ${String(pattern)}; output:\n${out}`));
        };
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      }),
    stop: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** `tessera serve --port 0 <args>` (with `env` added to its variables), once serving, with a client to it. */
export async function startServeProcess(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ readonly process: CliProcess; readonly client: TesseraClient }> {
  const process = startCli(['serve', '--port', '0', ...args], env);
  const [, address] = await process.waitFor(/serving on (\S+)/);
  return { process, client: new TesseraClient({ address: address ?? '', timeoutMillis: 10_000 }) };
}

/** `tessera writer` on a deployment, with its chDB under `dataDir` (and `env` added to its variables), once it consumes. */
export async function startWriterCli(
  nodes: readonly { readonly host: string; readonly port: number }[],
  keyPrefix: string,
  dataDir: string,
  extra: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<CliProcess> {
  const list = nodes.map((n) => `${n.host}:${n.port}`).join(',');
  const writer = startCli(
    ['writer', '--redis-cluster', list, '--key-prefix', keyPrefix, '--data-dir', dataDir, ...extra],
    env,
  );
  await writer.waitFor(/writer consuming/);
  return writer;
}

/** A running `tessera offline-server` and where it listens. */
export interface OfflineServerCli {
  readonly process: CliProcess;
  readonly port: number;
  /** `host:port`, what `--offline-server` takes. */
  readonly address: string;
}

/**
 * `tessera offline-server --port 0` over chDB in `dataDir`, once serving. `extra` adds flags
 * (`--auth --redis-cluster … --key-prefix …`); `env` adds variables (TESSERA_* settings).
 */
export async function startOfflineServerCli(
  dataDir: string,
  extra: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<OfflineServerCli> {
  const process = startCli(['offline-server', '--port', '0', '--data-dir', dataDir, ...extra], env);
  const [, address] = await process.waitFor(/serving on (\S+)/);
  const port = Number(address?.slice(address.lastIndexOf(':') + 1));
  return { process, port, address: address ?? '' };
}
