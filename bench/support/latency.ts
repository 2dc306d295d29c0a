import { seededRandom } from './dataset.js';

/** One way of making the call under test; resolves when the reply is in. */
export interface Contender {
  readonly name: string;
  /** Makes call number `i` (callers rotate through prepared requests with it). */
  call(i: number): Promise<unknown>;
}

/** Bounds of one measurement. */
export interface MeasureOptions {
  /** Calls per contender before any sample is kept... */
  readonly warmupCalls: number;
  /** ...or fewer, when they take longer than this per contender. */
  readonly maxWarmupMillis: number;
  /** Samples kept per contender at most. */
  readonly calls: number;
  /** Wall-clock budget of the whole case (warm-up included); measuring stops when it is spent. */
  readonly maxCaseMillis: number;
  /** Calls a contender makes before the next takes its turn. */
  readonly blockCalls: number;
}

/** Latency summary of one contender, in milliseconds. */
export interface LatencySummary {
  readonly calls: number;
  readonly p50Millis: number;
  readonly p90Millis: number;
  readonly p99Millis: number;
  readonly maxMillis: number;
  readonly meanMillis: number;
}

/**
 * Measures each contender with one call in flight (latency, not throughput). Contenders take turns
 * in blocks, so a burst of machine noise (another process, a GC of the server) lands on all of them
 * instead of on whichever happened to run then. The turn order is shuffled every round (seeded, so
 * runs repeat): the first block after a switch pays for waking another process and cold caches, and
 * a fixed order would charge that to the same contenders every round.
 */
export async function measureInterleaved(
  contenders: readonly Contender[],
  options: MeasureOptions,
): Promise<Map<string, LatencySummary>> {
  const startedAt = Date.now();
  const outOfTime = (): boolean => Date.now() - startedAt > options.maxCaseMillis;
  for (const contender of contenders) {
    const warmupEnd = Date.now() + options.maxWarmupMillis;
    for (let i = 0; i < options.warmupCalls && Date.now() < warmupEnd; i++) await contender.call(i);
  }
  const samples = contenders.map(() => [] as number[]);
  const order = contenders.map((_, c) => c);
  const random = seededRandom(ORDER_SEED);
  let next = 0;
  while (!outOfTime() && samples.some((s) => s.length < options.calls)) {
    shuffle(order, random);
    for (const c of order) {
      const contender = contenders[c] as Contender;
      const kept = samples[c] as number[];
      const blockEnd = Math.min(kept.length + options.blockCalls, options.calls);
      while (kept.length < blockEnd) {
        const started = process.hrtime.bigint();
        await contender.call(next++);
        kept.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }
  }
  return new Map(contenders.map((contender, c) => [contender.name, summarize(samples[c] as number[])]));
}

const ORDER_SEED = 0x5eed;

/** Fisher–Yates, in place. */
function shuffle(items: number[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as number, items[i] as number];
  }
}

/** Nearest-rank percentiles: the value below which `q` of the samples fall, never interpolated. */
export function summarize(samples: number[]): LatencySummary {
  if (samples.length === 0) throw new Error('no samples: the case ran out of time during warm-up');
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    calls: sorted.length,
    p50Millis: at(0.5),
    p90Millis: at(0.9),
    p99Millis: at(0.99),
    maxMillis: sorted[sorted.length - 1] as number,
    meanMillis: sum / sorted.length,
  };
}
