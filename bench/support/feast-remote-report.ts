import type { LatencySummary } from './latency.js';

/** The two percentiles a ratio is given for. */
export interface PercentileRatio {
  readonly p50: number;
  readonly p99: number;
}

/** One shape of bench/feast-remote.ts: the same Feast SDK call through three online stores. */
export interface FeastRemoteCaseResult {
  /** `<entities>x<features>`. */
  readonly id: string;
  readonly entities: number;
  readonly features: number;
  /** `online_store: {type: remote}` → Tessera's Feast HTTP endpoints. */
  readonly tessera: LatencySummary;
  /** `online_store: {type: remote}` → `feast serve` (Feast's Python feature server on its Redis store). */
  readonly feastServe: LatencySummary;
  /** The repository's own Redis online store, read in the SDK's process: no server at all. */
  readonly inProcess: LatencySummary;
  /**
   * The POST the remote store sends, made with `requests` alone (answer read, not parsed): the server
   * and HTTP without the SDK, measured in the same interleaved rounds.
   */
  readonly http: { readonly tessera: LatencySummary; readonly feastServe: LatencySummary };
  readonly ratios: {
    readonly feastServeOverTessera: PercentileRatio;
    readonly tesseraOverInProcess: PercentileRatio;
    readonly httpFeastServeOverTessera: PercentileRatio;
  };
  /** Rounds of interleaved blocks. */
  readonly rounds: number;
  /** Answers compared before timing: every store's to_dict() and statuses equal, every value PRESENT. */
  readonly check: {
    readonly batches: number;
    readonly valuesCompared: number;
    readonly valuesPresent: number;
  };
}

/** a / b of both percentiles. */
export function percentileRatio(a: LatencySummary, b: LatencySummary): PercentileRatio {
  return { p50: a.p50Millis / b.p50Millis, p99: a.p99Millis / b.p99Millis };
}

const ms = (value: number): string => value.toFixed(value < 10 ? 2 : 1);
const pair = (s: LatencySummary): string => `${ms(s.p50Millis)} / ${ms(s.p99Millis)}`;
const ratio = (r: PercentileRatio): string => `${r.p50.toFixed(2)}× / ${r.p99.toFixed(2)}×`;

/** The markdown table of bench/README.md and the report. */
export function feastRemoteMarkdownTable(cases: readonly FeastRemoteCaseResult[]): string {
  const rows = cases.map((c) =>
    [
      c.id.replace('x', '×'),
      pair(c.tessera),
      pair(c.feastServe),
      pair(c.inProcess),
      ratio(c.ratios.feastServeOverTessera),
      ratio(c.ratios.tesseraOverInProcess),
      `${c.tessera.calls} / ${c.feastServe.calls} / ${c.inProcess.calls}`,
      String(c.check.valuesCompared),
    ].join(' | '),
  );
  return [
    '| shape | remote → Tessera p50 / p99 ms | remote → `feast serve` p50 / p99 ms | in process (Redis) p50 / p99 ms | `feast serve` / Tessera p50 / p99 | Tessera / in process p50 / p99 | calls (T / fs / ip) | values checked equal |',
    '| ----- | ----------------------------- | ----------------------------------- | ------------------------------- | --------------------------------- | ------------------------------ | ------------------- | -------------------- |',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

/** The second table: the same POST without the SDK, and what the SDK adds on top (p50). */
export function feastRemoteHttpMarkdownTable(cases: readonly FeastRemoteCaseResult[]): string {
  const rows = cases.map((c) =>
    [
      c.id.replace('x', '×'),
      pair(c.http.tessera),
      pair(c.http.feastServe),
      ratio(c.ratios.httpFeastServeOverTessera),
      ms(c.tessera.p50Millis - c.http.tessera.p50Millis),
      ms(c.feastServe.p50Millis - c.http.feastServe.p50Millis),
    ].join(' | '),
  );
  return [
    '| shape | POST → Tessera p50 / p99 ms | POST → `feast serve` p50 / p99 ms | `feast serve` / Tessera p50 / p99 | SDK on top, Tessera p50 Δ ms | SDK on top, `feast serve` p50 Δ ms |',
    '| ----- | --------------------------- | --------------------------------- | --------------------------------- | ---------------------------- | ---------------------------------- |',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}
