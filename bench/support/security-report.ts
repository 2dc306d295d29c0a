import type { LatencySummary } from './latency.js';

/** The goal: auth + TLS costs at most 10 % at p50 over plaintext without auth. */
export const P50_RATIO_TARGET = 1.1;

/**
 * How a measured server is exposed on its main port. Each runs in a process of its own that also
 * serves a local plaintext listener without auth (`--local-port`): that listener is the variant's
 * baseline, the same process, store connections and compiled code, only the transport and the key
 * check differ.
 */
export type SecurityVariant = 'tls' | 'auth' | 'auth+tls' | 'auth+mtls';

/** One variant's GetOnlineFeatures latency and its ratio to plaintext without auth on the same process. */
export interface VariantResult {
  readonly variant: SecurityVariant;
  readonly latency: LatencySummary;
  /** The same server's local plaintext listener, no key, measured interleaved with `latency`. */
  readonly plain: LatencySummary;
  /** latency / plain, at p50 and p99. */
  readonly ratio: { readonly p50: number; readonly p99: number };
  /** p50 minus plain's p50, ms: the absolute cost, clearer than a ratio when calls are short. */
  readonly p50DeltaMillis: number;
  /** CPU the bench (the client) spent per call, µs, on the variant's calls and on its plain calls. */
  readonly clientCpuMicrosPerCall: { readonly variant: number; readonly plain: number };
  /** CPU the server process spent per call over the case (both listeners), µs (null without /proc). */
  readonly serverCpuMicrosPerCall: number | null;
}

/**
 * auth+tls over plain through ghz (Go's gRPC and TLS) instead of the Node client: p50 per run of each
 * side, the runs alternating, and the ratio of their medians.
 */
export interface GoClientComparison {
  readonly client: string;
  readonly plainP50Millis: number;
  readonly securedP50Millis: number;
  readonly ratioP50: number;
  readonly runs: { readonly plain: readonly number[]; readonly secured: readonly number[] };
  readonly secondsPerRun: number;
  readonly calls: number;
}

/** Results of one case: one backend, one batch shape, every variant measured interleaved. */
export interface SecurityCaseResult {
  readonly id: string;
  readonly backend: 'embedded' | 'redis-cluster';
  readonly entities: number;
  readonly features: number;
  readonly variants: readonly VariantResult[];
  /**
   * gRPC health checks (open: no key needed) to the auth+tls server's plaintext listener and to its
   * TLS port, measured interleaved after the variants: the round trip alone, so `tls − plain` here is
   * TLS's own cost.
   */
  readonly floors: { readonly plain: LatencySummary; readonly tls: LatencySummary };
  /** auth+tls against plain through a Go client (absent in results made before it was measured). */
  readonly goClient?: GoClientComparison;
  /** The target for `auth+tls` over `plain` at p50 (not asserted: reported beside the ratio). */
  readonly p50RatioTarget: number;
}

function ms(value: number): string {
  return value < 10 ? value.toFixed(3) : value.toFixed(1);
}

/** `1.07× (target ≤ 1.10: met)` for auth+tls, the bare ratio for the others. */
function ratioCell(c: SecurityCaseResult, v: VariantResult): string {
  const text = `${v.ratio.p50.toFixed(2)}×`;
  if (v.variant !== 'auth+tls') return text;
  return `${text} (target ≤ ${c.p50RatioTarget.toFixed(2)}: ${v.ratio.p50 <= c.p50RatioTarget ? 'met' : 'missed'})`;
}

/** The Go client's row: medians over its runs, the ratio judged against the same target. */
function goClientRow(c: SecurityCaseResult, g: GoClientComparison): string[] {
  const verdict = g.ratioP50 <= c.p50RatioTarget ? 'met' : 'missed';
  return [
    c.backend,
    `${c.entities} × ${c.features}`,
    `auth+tls, Go client (ghz, median of ${g.runs.secured.length} runs)`,
    ms(g.securedP50Millis),
    ms(g.plainP50Millis),
    `${g.ratioP50.toFixed(2)}× (target ≤ ${c.p50RatioTarget.toFixed(2)}: ${verdict})`,
    '',
    `${((g.securedP50Millis - g.plainP50Millis) * 1000).toFixed(0)} µs`,
    '',
    '',
    String(g.calls),
  ];
}

/** The results as a markdown table: one row per case and variant. */
export function securityMarkdownTable(cases: readonly SecurityCaseResult[]): string {
  const header = [
    'backend',
    'entities × features',
    'variant',
    'p50',
    'plain p50',
    'p50 / plain',
    'p99 / plain',
    'p50 − plain',
    'server CPU µs/call',
    'client CPU µs/call (variant / plain)',
    'calls',
  ];
  const rows = cases.flatMap((c) => [
    ...c.variants.map((v) => [
      c.backend,
      `${c.entities} × ${c.features}`,
      v.variant,
      ms(v.latency.p50Millis),
      ms(v.plain.p50Millis),
      ratioCell(c, v),
      `${v.ratio.p99.toFixed(2)}×`,
      `${(v.p50DeltaMillis * 1000).toFixed(0)} µs`,
      v.serverCpuMicrosPerCall === null ? '—' : v.serverCpuMicrosPerCall.toFixed(0),
      `${v.clientCpuMicrosPerCall.variant.toFixed(0)} / ${v.clientCpuMicrosPerCall.plain.toFixed(0)}`,
      String(v.latency.calls),
    ]),
    [
      c.backend,
      `${c.entities} × ${c.features}`,
      'health check (floor): TLS / plain',
      ms(c.floors.tls.p50Millis),
      ms(c.floors.plain.p50Millis),
      `${(c.floors.tls.p50Millis / c.floors.plain.p50Millis).toFixed(2)}×`,
      `${(c.floors.tls.p99Millis / c.floors.plain.p99Millis).toFixed(2)}×`,
      `${((c.floors.tls.p50Millis - c.floors.plain.p50Millis) * 1000).toFixed(0)} µs`,
      '',
      '',
      String(Math.min(c.floors.plain.calls, c.floors.tls.calls)),
    ],
    ...(c.goClient === undefined ? [] : [goClientRow(c, c.goClient)]),
  ]);
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
