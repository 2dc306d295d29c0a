import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const START_TIMEOUT_MILLIS = 30_000;
/** SIGTERM lets the server close and write its CPU profile; SIGKILL after this long. */
const STOP_TIMEOUT_MILLIS = 10_000;
const OUTPUT_TAIL_CHARS = 4_000;

/** A `tessera serve` child process. */
export interface ServerProcess {
  /** `host:port` it serves on. */
  readonly address: string;
  /** `127.0.0.1:port` of its local plaintext listener, when started with `--local-port`. */
  readonly localAddress: string | undefined;
  /** `http://127.0.0.1:port` of its Feast HTTP endpoints, when started with `--feast-http-port`. */
  readonly feastUrl: string | undefined;
  readonly pid: number;
  /** SIGTERM, then SIGKILL if it has not exited in time. Safe to call twice. */
  stop(): Promise<void>;
}

/** Children not stopped yet, killed on exit so a failed run leaves no server behind. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts `node <cliBin> serve --port 0 <args>` and resolves once it prints its
 * `tessera: serving on <address>` line (and, with `--local-port` in `args`, its
 * `serving this host on <address>` line, and with `--feast-http-port` its `Feast HTTP endpoints on <url>`
 * line). `nodeArgs` go before the script (`--cpu-prof`, ...); `env`
 * is added to this process's environment.
 */
export async function startServerProcess(
  cliBin: string,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeArgs, cliBin, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  live.add(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stderr.on('data', keep);
  const exited = once(child, 'exit');
  const expectLocal = args.includes('--local-port');
  const expectFeast = args.includes('--feast-http-port');
  let localAddress: string | undefined;
  let feastUrl: string | undefined;
  const address = await new Promise<string>((resolve, reject) => {
    let served: string | undefined;
    const timer = setTimeout(
      () => reject(new Error(`tessera serve printed no "serving on" line in ${START_TIMEOUT_MILLIS} ms:\n${output}`)),
      START_TIMEOUT_MILLIS,
    );
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      output = (output + line + '\n').slice(-OUTPUT_TAIL_CHARS);
      served ??= /serving on (\S+)/.exec(line)?.[1];
      localAddress ??= /serving this host on (\S+)/.exec(line)?.[1];
      feastUrl ??= /Feast HTTP endpoints on (\S+)/.exec(line)?.[1];
      if (
        served !== undefined &&
        (!expectLocal || localAddress !== undefined) &&
        (!expectFeast || feastUrl !== undefined)
      ) {
        clearTimeout(timer);
        resolve(served);
      }
    });
    void exited.then(([code, signal]) => {
      clearTimeout(timer);
      reject(new Error(`tessera serve exited (${String(code ?? signal)}) before serving:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    live.delete(child);
    await exited;
    throw error;
  });
  let stopped: Promise<void> | undefined;
  return {
    address,
    localAddress,
    feastUrl,
    pid: child.pid as number,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MILLIS);
          child.kill('SIGTERM');
          await exited;
          clearTimeout(timer);
        }
        live.delete(child);
      })();
      return stopped;
    },
  };
}
