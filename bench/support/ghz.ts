// ghz runs for the benchmarks: closed loops (a fixed number of requests in flight) and open loops
// (a constant arrival rate, `--async`, so a slow server meets a growing queue, not fewer requests).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** What one load run measured, in the units every benchmark reports. */
export interface LoadFigures {
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
  readonly p50Millis: number;
  readonly p95Millis: number;
  readonly p99Millis: number;
  readonly maxMillis: number;
  /** ghz's message of each kind of error counted in `errors`, with its count (the run's end excluded). */
  readonly errorKinds?: Readonly<Record<string, number>>;
}

/** The fields of ghz's `-O json` report the benchmarks read. */
export interface GhzReport {
  count: number;
  rps: number;
  slowest: number;
  latencyDistribution: { percentage: number; latency: number }[] | null;
  statusCodeDistribution?: Record<string, number>;
  errorDistribution?: Record<string, number> | null;
}

// With `--duration-stop close` ghz cancels the calls still in flight when the time is up and counts
// them as errors: those are the run ending, not the server failing. Runs here wait instead; the
// filter stays for reports of runs made otherwise.
const END_OF_RUN = /Canceled|client connection is closing|context canceled|use of closed network connection/;

/** A ghz report as {@link LoadFigures} (ghz reports nanoseconds; errors exclude the end of the run). */
export function fromGhz(report: GhzReport): LoadFigures {
  const at = (p: number): number => (report.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? 0) / 1e6;
  const kinds = Object.entries(report.errorDistribution ?? {}).filter(([message]) => !END_OF_RUN.test(message));
  const errors = kinds.reduce((sum, [, count]) => sum + count, 0);
  return {
    requests: report.count,
    errors,
    ...(kinds.length === 0 ? {} : { errorKinds: Object.fromEntries(kinds) }),
    rps: report.rps,
    p50Millis: at(50),
    p95Millis: at(95),
    p99Millis: at(99),
    maxMillis: report.slowest / 1e6,
  };
}

/** One ghz run against a Tessera server (the method found through server reflection). */
export interface GhzRun {
  readonly bin: string;
  readonly address: string;
  /** `Service.Method`, e.g. `tessera.v1.FeatureStore.GetOnlineFeatures`. */
  readonly call: string;
  /** The request as proto3 JSON, or a file holding a JSON array of requests ghz takes in turn. */
  readonly data: { readonly json: string } | { readonly file: string };
  readonly seconds: number;
  /** Closed loop: this many workers, each waiting for its answer before the next request. */
  readonly concurrency?: number;
  /** Open loop: requests started per second, whether or not earlier ones were answered. */
  readonly rps?: number;
  /** Connections the requests are spread over (ghz's default is 1). */
  readonly connections?: number;
  /** TLS to the server (plaintext without it): the CA that signed its certificate, and a client pair for mTLS. */
  readonly tls?: { readonly caFile: string; readonly certFile?: string; readonly keyFile?: string };
  /** A FileDescriptorSet file to find the method in, instead of server reflection. */
  readonly protoset?: string;
  /** Metadata sent with every call and with the reflection calls, e.g. `authorization`. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Runs ghz once and resolves with its figures; rejects if ghz fails to run. */
export async function runGhz(run: GhzRun): Promise<LoadFigures> {
  const open = run.rps !== undefined;
  const concurrency = run.concurrency ?? 4;
  const metadata = run.metadata === undefined ? [] : JSON.stringify(run.metadata);
  const args = [
    ...(run.tls === undefined
      ? ['--insecure']
      : [
          '--cacert',
          run.tls.caFile,
          ...(run.tls.certFile === undefined ? [] : ['--cert', run.tls.certFile]),
          ...(run.tls.keyFile === undefined ? [] : ['--key', run.tls.keyFile]),
        ]),
    ...(typeof metadata === 'string' ? ['--metadata', metadata, '--reflect-metadata', metadata] : []),
    ...(run.protoset === undefined ? [] : ['--protoset', run.protoset]),
    '--call',
    run.call,
    ...('json' in run.data ? ['-d', run.data.json] : ['-D', run.data.file]),
    '-c',
    String(concurrency),
    '--connections',
    String(run.connections ?? Math.min(4, concurrency)),
    '-z',
    `${run.seconds}s`,
    // -z rules; -n only has to be large enough not to end the run first.
    '-n',
    '100000000',
    // Every request sent is awaited and counted (no call cut off by the run's end, which ghz would
    // report as an error); in an open loop a late answer shows as latency.
    '--duration-stop',
    'wait',
    ...(open ? ['--async', '--rps', String(Math.max(1, Math.round(run.rps ?? 1)))] : []),
    '-O',
    'json',
    run.address,
  ];
  const { stdout } = await execFileAsync(run.bin, args, {
    maxBuffer: 64 * 1024 * 1024,
    timeout: (run.seconds + 90) * 1000,
  });
  return fromGhz(JSON.parse(stdout) as GhzReport);
}
