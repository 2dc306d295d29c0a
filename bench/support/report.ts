import type { LatencySummary } from './latency.js';

/** Latency p99 goals from the online-serving issue, by `entities×features`. */
export const P99_TARGET_MILLIS: Readonly<Record<string, number>> = { '1x50': 2, '100x50': 5 };

/** The goal for the SDK: 1 × 10 end-to-end p50 at most this many times the bare gRPC call of the same size. */
export const SDK_OVER_FLOOR_TARGET: Readonly<Record<string, number>> = { '1x10': 2 };

/** Results of one case: one backend, one batch shape. */
export interface CaseResult {
  readonly id: string;
  readonly backend: 'embedded' | 'redis-cluster';
  readonly entities: number;
  readonly features: number;
  /** Mean size of the stored packed rows read in the case, bytes (Redis only; null for LMDB). */
  readonly rowBytes: number | null;
  /** GetOnlineFeatures through `getOnlineFeaturesRaw`: gRPC and the server, no client-side conversion. */
  readonly tessera: LatencySummary;
  /** The same through `getOnlineFeatures`: also builds the request and converts the reply to JS values. */
  readonly tesseraEndToEnd: LatencySummary;
  /** A gRPC health check to the same server in the same run: the round trip every call pays. */
  readonly grpcFloor: LatencySummary;
  /**
   * A bare grpc-js call of the same request and response bytes to a server that answers a canned
   * response (bench/support/canned-grpc-floor.ts). Absent in results made before it existed.
   */
  readonly cannedFloor?: LatencySummary;
  /** tesseraEndToEnd p50 / cannedFloor p50: what the SDK call costs over the bare gRPC call. */
  readonly sdkOverCannedFloorP50?: number;
  /** Pipelined HMGET of the same rows from the bench process (Redis only). */
  readonly rawHmget: LatencySummary | null;
  /** tessera / rawHmget at p50 and p99 (Redis only). */
  readonly ratio: { readonly p50: number; readonly p99: number } | null;
  /** The p99 goal for this shape, if it has one. */
  readonly p99TargetMillis: number | null;
}

function ms(value: number): string {
  return value < 10 ? value.toFixed(3) : value.toFixed(1);
}

function ratio(value: number): string {
  return `${value.toFixed(1)}×`;
}

/** The results as a markdown table, one row per case. */
export function markdownTable(cases: readonly CaseResult[]): string {
  const header = [
    'backend',
    'entities × features',
    'Tessera p50',
    'Tessera p99',
    'client e2e p50',
    'client e2e p99',
    'raw HMGET p50',
    'raw HMGET p99',
    'Tessera/raw p50',
    'Tessera/raw p99',
    'gRPC floor p50',
    'same-size gRPC floor p50 / p99',
    'SDK p50 / floor p50',
    'calls',
    'p99 target',
    'SDK target',
  ];
  const rows = cases.map((c) => {
    const target =
      c.p99TargetMillis === null
        ? ''
        : `≤ ${c.p99TargetMillis} ms: ${c.tessera.p99Millis <= c.p99TargetMillis ? 'met' : 'missed'}`;
    const sdkTarget = SDK_OVER_FLOOR_TARGET[`${c.entities}x${c.features}`];
    const sdk =
      sdkTarget === undefined || c.sdkOverCannedFloorP50 === undefined
        ? ''
        : `≤ ${sdkTarget}×: ${c.sdkOverCannedFloorP50 <= sdkTarget ? 'met' : 'missed'}`;
    return [
      c.backend,
      `${c.entities} × ${c.features}`,
      ms(c.tessera.p50Millis),
      ms(c.tessera.p99Millis),
      ms(c.tesseraEndToEnd.p50Millis),
      ms(c.tesseraEndToEnd.p99Millis),
      c.rawHmget ? ms(c.rawHmget.p50Millis) : '—',
      c.rawHmget ? ms(c.rawHmget.p99Millis) : '—',
      c.ratio ? ratio(c.ratio.p50) : '—',
      c.ratio ? ratio(c.ratio.p99) : '—',
      ms(c.grpcFloor.p50Millis),
      c.cannedFloor ? `${ms(c.cannedFloor.p50Millis)} / ${ms(c.cannedFloor.p99Millis)}` : '—',
      c.sdkOverCannedFloorP50 === undefined ? '—' : ratio(c.sdkOverCannedFloorP50),
      String(Math.min(c.tessera.calls, c.tesseraEndToEnd.calls, c.rawHmget?.calls ?? Infinity)),
      target,
      sdk,
    ];
  });
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
