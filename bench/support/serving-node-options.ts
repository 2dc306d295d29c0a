/**
 * Node options the online benchmarks start `tessera serve` (and the bare gRPC floor beside it) with,
 * as a deployment should (`NODE_OPTIONS=--max-semi-space-size=32`): a young generation that may grow
 * to 32 MB per semi-space instead of 16 MB. Nearly everything a read allocates dies young, so fewer
 * scavenges do the same work: 12–24 % less server CPU per 1 × 10 read in three of four interleaved
 * A/B runs here, no difference in the fourth (load average 10–24; bench/README.md).
 * `--server-node-options ''` runs Node's defaults.
 */
export const DEFAULT_SERVING_NODE_OPTIONS = '--max-semi-space-size=32';

/** The options as node arguments ('' → none). */
export function servingNodeArgs(options: string | undefined): string[] {
  return (options ?? DEFAULT_SERVING_NODE_OPTIONS).split(/\s+/).filter((arg) => arg !== '');
}
