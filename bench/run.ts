// One entry point for the benchmarks: `npm run bench -- <scenario|all> [--smoke]`, then a report
// (markdown table and SVG charts) from the newest result of every scenario. Each scenario is its own
// script and process; they run one after another so they do not disturb each other.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeReport } from './support/bench-report.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Scenario {
  readonly script: string;
  readonly description: string;
  /** Rough duration of a full run on the 2-core machines, minutes. */
  readonly minutes: number;
  /** Extra arguments of a full run. */
  readonly args?: readonly string[];
}

/** The scenarios, as data: what `all` runs, in this order. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  'online-latency': {
    script: 'bench/online-latency.ts',
    description: 'GetOnlineFeatures p50/p99, one call in flight, both stores, against raw HMGET',
    minutes: 2,
  },
  'online-load': {
    script: 'bench/online-load.ts',
    args: ['--mode', 'cluster', '--rates', '0.5,0.9'],
    description: 'ghz closed-loop throughput and fixed-rate latency (the knee), against raw HMGET loops',
    minutes: 6,
  },
  'online-load-embedded': {
    script: 'bench/online-load.ts',
    args: ['--mode', 'embedded', '--shapes', '1x10,10x10,100x100', '--rates', '0.5,0.9'],
    description: 'the same load against the embedded server (LMDB), three shapes, against raw LMDB gets',
    minutes: 2,
  },
  'security-cost': {
    script: 'bench/security-cost.ts',
    description:
      'GetOnlineFeatures 1×50 and 100×50 on plaintext, TLS, auth, auth+TLS and auth+mTLS servers, interleaved: the cost of security as a ratio',
    minutes: 4,
  },
  'tracing-cost': {
    script: 'bench/tracing-cost.ts',
    description:
      'GetOnlineFeatures 1×50 and Write 10×50 with tracing off, sampled 1 % and 100 % (OTLP to a real Jaeger), interleaved: the cost of tracing as a ratio',
    minutes: 4,
  },
  'python-client': {
    script: 'bench/python-client.ts',
    description:
      'the Python client (tessera_client) against the raw grpcio stub, GetOnlineFeatures 1×10 and 100×10, one call in flight, interleaved: the client’s cost as a ratio',
    minutes: 1,
  },
  write: {
    script: 'bench/write-throughput.ts',
    description: 'WriteStream throughput through write-behind and the offline lag, against HSET + chDB insert',
    minutes: 1,
  },
  mixed: {
    script: 'bench/mixed.ts',
    description: '90 % reads / 10 % writes at 200 requests/s for 5 minutes, cluster mode: latency and memory over time',
    minutes: 6,
  },
  'mixed-embedded': {
    script: 'bench/mixed.ts',
    description: 'the same mixed load against the embedded server (LMDB + outbox), 1 minute',
    minutes: 2,
    args: ['--mode', 'embedded', '--minutes', '1'],
  },
  feast: {
    script: 'bench/feast.ts',
    description:
      'Tessera beside Feast 0.67 (Redis Cluster online, DuckDB offline): SDK latency, feature servers under ghz and vegeta, training sets',
    minutes: 6,
  },
  'feast-remote': {
    script: 'bench/feast-remote.ts',
    description:
      'Feast 0.67 SDK get_online_features through its remote online store → Tessera’s Feast endpoints vs → feast serve, and its in-process Redis store, interleaved: 1×10 to 100×30',
    minutes: 6,
  },
  'cli-startup': {
    script: 'bench/cli-startup.ts',
    description:
      '`tessera get` of one entity as a new process against a running `tessera serve`, end to end, alternating with `node -e 0` (the floor): wall and CPU time against the ≤ 0.3 s target',
    minutes: 1,
  },
  historical: {
    script: 'bench/historical.ts',
    description:
      'GetHistorical 100k and 1M entity rows × 3 views × 10 features over 10M rows, against the plain ASOF query',
    minutes: 6,
    args: ['--repetitions', '2', '--plans', 'hash,key_ranges'],
  },
  aggregations: {
    script: 'bench/aggregations.ts',
    description:
      'window aggregations: Write rows/s with 3 aggregations vs none, and GetOnlineFeatures 100 × 6 windowed vs 100 × 6 plain (90 % sparse, 10 % busy entities), cluster and embedded, interleaved; Redis bytes per entity',
    minutes: 5,
  },
  'historical-windows': {
    script: 'bench/historical-windows.ts',
    description:
      'GetHistorical of six window aggregations (7d/30d counts, sum, mean, approx distinct, unbounded last_ts) over 1M events, against the same range join written by hand',
    minutes: 2,
  },
  rebuild: {
    script: 'bench/rebuild-aggregations.ts',
    description:
      'online tiles rebuilt from 30 days of offline events for 100k entities (uninterrupted, and interrupted + resumed: every entity byte-identical): events/s, entities/s',
    minutes: 4,
  },
};

function runScript(scenario: Scenario, extra: readonly string[]): Promise<number> {
  const tsx = join(REPO_ROOT, 'node_modules/.bin/tsx');
  return new Promise((resolve) => {
    const child = spawn(tsx, [scenario.script, ...(scenario.args ?? []), ...extra], {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      'report-only': { type: 'boolean', default: false },
    },
  });
  const wanted = positionals[0] ?? 'all';
  const names = wanted === 'all' ? Object.keys(SCENARIOS) : [wanted];
  for (const name of names) {
    if (SCENARIOS[name] === undefined) {
      console.error(`bench: unknown scenario "${name}"; one of: all, ${Object.keys(SCENARIOS).join(', ')}`);
      return 2;
    }
  }
  const outDir = values.out ?? join(REPO_ROOT, 'bench/results');
  let failed = 0;
  if (!values['report-only']) {
    for (const name of names) {
      const scenario = SCENARIOS[name] as Scenario;
      console.error(`bench: ${name} — ${scenario.description} (about ${scenario.minutes} min)`);
      const extra = [...(values.smoke ? ['--smoke'] : []), '--out', outDir];
      // A smoke run keeps what a scenario is (its --mode) and drops its sizes.
      const args = scenario.args ?? [];
      const mode = args.indexOf('--mode');
      const smokeArgs = mode === -1 ? [] : args.slice(mode, mode + 2);
      const code = await runScript(values.smoke ? { ...scenario, args: smokeArgs } : scenario, extra);
      if (code !== 0) {
        console.error(`bench: ${name} failed (exit ${code})`);
        failed++;
      }
    }
  }
  const report = await writeReport(outDir);
  console.log(report.markdown);
  console.log(`\nReport: ${report.markdownFile}; charts: ${report.charts.join(', ')}`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
