/**
 * SIGTERM / SIGINT for the long-running commands (`serve`, `writer`). Installed before anything
 * starts, so a signal during startup is not lost to Node's default (die at once, exit code 143):
 * the first signal asks for a graceful stop, a second one exits at once.
 */

/** How much longer than its grace period a stop may take (the outbox drain, closing stores) before the process exits anyway, ms. */
const STOP_MARGIN_MILLIS = 10_000;

export interface StopSignal {
  /** Resolves with the first SIGTERM or SIGINT. */
  readonly received: Promise<NodeJS.Signals>;
  /** True once a signal arrived. */
  requested(): boolean;
  /**
   * Bounds the graceful stop: if the process is still running `graceMillis` + a margin after this
   * call, it exits with code 1 saying so (a stop must never hang on a dead backend).
   */
  bound(graceMillis: number): void;
}

export function listenForStop(): StopSignal {
  let signal: NodeJS.Signals | undefined;
  let resolve: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((r) => {
    resolve = r;
  });
  const onSignal = (s: NodeJS.Signals): void => {
    if (signal !== undefined) {
      process.stderr.write(`tessera: ${s} again: exiting without waiting\n`);
      process.exit(1);
    }
    signal = s;
    resolve(s);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    received,
    requested: () => signal !== undefined,
    bound: (graceMillis) => {
      const limit = graceMillis + STOP_MARGIN_MILLIS;
      setTimeout(() => {
        process.stderr.write(`tessera: still stopping after ${limit} ms: exiting\n`);
        process.exit(1);
      }, limit).unref();
    },
  };
}
