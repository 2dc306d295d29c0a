// The figures of one segment of bench/mixed.ts, shared with the report step.

export interface KindFigures {
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
  readonly p50Millis: number;
  readonly p95Millis: number;
  readonly p99Millis: number;
  readonly maxMillis: number;
}

export interface Segment {
  readonly index: number;
  readonly reads: KindFigures;
  readonly writes: KindFigures;
  readonly dropped: number;
  readonly server: { readonly rssBytes: number; readonly cpuCores: number };
  readonly writer?: { readonly rssBytes: number; readonly cpuCores: number };
}
