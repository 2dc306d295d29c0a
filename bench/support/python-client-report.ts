import type { LatencySummary } from './latency.js';

/** One shape of bench/python-client.ts: the Python client against the raw grpcio stub, same requests. */
export interface PythonClientCaseResult {
  /** `<entities>x<features>`. */
  readonly id: string;
  readonly entities: number;
  readonly features: number;
  /** `tessera_client.Client.get_online_features`, reply decoded into Python lists. */
  readonly client: LatencySummary;
  /** The generated `FeatureStoreStub.GetOnlineFeatures`, requests built before measuring. */
  readonly raw: LatencySummary;
  /** client / raw. */
  readonly ratio: { readonly p50: number; readonly p99: number };
  /** Rounds of interleaved blocks. */
  readonly rounds: number;
}

const ms = (value: number): string => value.toFixed(value < 10 ? 3 : 1);

/** The markdown table of bench/README.md and the report. */
export function pythonClientMarkdownTable(cases: readonly PythonClientCaseResult[]): string {
  const rows = cases.map((c) =>
    [
      c.id.replace('x', '×'),
      `${ms(c.client.p50Millis)} / ${ms(c.client.p99Millis)}`,
      `${ms(c.raw.p50Millis)} / ${ms(c.raw.p99Millis)}`,
      `${c.ratio.p50.toFixed(2)}× / ${c.ratio.p99.toFixed(2)}×`,
      `${ms(c.client.p50Millis - c.raw.p50Millis)}`,
      `${c.client.calls} / ${c.raw.calls}`,
    ].join(' | '),
  );
  return [
    '| shape | client p50 / p99 ms | raw stub p50 / p99 ms | client / raw p50 / p99 | p50 Δ ms | calls (client / raw) |',
    '| ----- | ------------------- | --------------------- | ---------------------- | -------- | -------------------- |',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}
