// Issue 18's online serving goals beside what the newest online-load and online-latency results
// measured, met or not, for the report of `npm run bench`.
import { P99_TARGET_MILLIS, SDK_OVER_FLOOR_TARGET } from './report.js';

/** The fields of an online-load case the targets read (older results lack the floor fields). */
export interface LoadTargetCase {
  readonly id: string;
  readonly entities?: number;
  readonly closed: { readonly rps: number };
  readonly raw: { readonly rps: number };
  readonly grpcFloor?: { readonly rps: number };
  readonly server: { readonly cpuCores: number; readonly lookupsPerCoreSecond?: number };
  readonly grpcFloorServer?: { readonly cpuMicrosPerRequest: number };
}

/** The fields of an online-latency case the targets read. */
export interface LatencyTargetCase {
  readonly id: string;
  readonly backend?: string;
  readonly tessera: { readonly p50Millis: number; readonly p99Millis: number };
  readonly cannedFloor?: { readonly p50Millis: number; readonly p99Millis: number };
  readonly sdkOverCannedFloorP50?: number;
}

/** Raw engine / Tessera closed-loop throughput, 1 × 10, one connection: at most this. */
export const RAW_OVER_TESSERA_TARGET = 4;
/** Cluster mode lookups per second per server core: at least this. */
export const LOOKUPS_PER_CORE_TARGET = 10_000;

const verdict = (met: boolean): string => (met ? 'met' : 'missed');

/** One row per goal: goal, measured, the same-run floor where there is one, met or not. */
export function onlineTargetRows(
  clusterLoad: readonly LoadTargetCase[] | undefined,
  latency: readonly LatencyTargetCase[] | undefined,
): string[][] {
  const rows: string[][] = [];
  const load = clusterLoad?.find((c) => c.id === '1x10');
  if (load !== undefined) {
    const ratio = load.raw.rps / Math.max(load.closed.rps, 1e-9);
    const floorRatio = load.grpcFloor === undefined ? undefined : load.raw.rps / Math.max(load.grpcFloor.rps, 1e-9);
    rows.push([
      `cluster closed loop 1 × 10: raw engine / Tessera ≤ ${RAW_OVER_TESSERA_TARGET}×`,
      `${ratio.toFixed(1)}×`,
      floorRatio === undefined ? '—' : `raw / bare gRPC floor ${floorRatio.toFixed(1)}×`,
      verdict(ratio <= RAW_OVER_TESSERA_TARGET),
    ]);
    const perCore = load.server.lookupsPerCoreSecond ?? load.closed.rps / Math.max(load.server.cpuCores, 1e-9);
    const floorPerCore =
      load.grpcFloorServer === undefined ? undefined : 1e6 / Math.max(load.grpcFloorServer.cpuMicrosPerRequest, 1e-9);
    rows.push([
      `cluster mode ≥ ${LOOKUPS_PER_CORE_TARGET.toLocaleString('en-US')} lookups/s per server core (1 × 10)`,
      Math.round(perCore).toLocaleString('en-US'),
      floorPerCore === undefined
        ? '—'
        : `bare gRPC floor ${Math.round(floorPerCore).toLocaleString('en-US')} calls/s per core`,
      verdict(perCore >= LOOKUPS_PER_CORE_TARGET),
    ]);
  }
  for (const c of latency ?? []) {
    if (c.backend !== undefined && c.backend !== 'redis-cluster') continue;
    const shape = c.id.split(' ').at(-1) ?? '';
    const p99Target = P99_TARGET_MILLIS[shape];
    if (p99Target !== undefined) {
      rows.push([
        `${c.id}, one in flight: p99 ≤ ${p99Target} ms`,
        `${c.tessera.p99Millis.toFixed(2)} ms (p50 ${c.tessera.p50Millis.toFixed(2)}, p99/p50 ${(c.tessera.p99Millis / c.tessera.p50Millis).toFixed(1)})`,
        c.cannedFloor === undefined ? '—' : `bare gRPC floor p99 ${c.cannedFloor.p99Millis.toFixed(2)} ms`,
        verdict(c.tessera.p99Millis <= p99Target),
      ]);
    }
    const sdkTarget = SDK_OVER_FLOOR_TARGET[shape];
    if (sdkTarget !== undefined && c.sdkOverCannedFloorP50 !== undefined && c.cannedFloor !== undefined) {
      rows.push([
        `${c.id}: SDK p50 ≤ ${sdkTarget}× a bare grpc-js call of the same size`,
        `${c.sdkOverCannedFloorP50.toFixed(1)}×`,
        `bare call p50 ${c.cannedFloor.p50Millis.toFixed(3)} ms`,
        verdict(c.sdkOverCannedFloorP50 <= sdkTarget),
      ]);
    }
  }
  return rows;
}

/** The goals as a markdown section (empty when no online result exists). */
export function onlineTargetsMarkdown(
  clusterLoad: readonly LoadTargetCase[] | undefined,
  latency: readonly LatencyTargetCase[] | undefined,
): string[] {
  const rows = onlineTargetRows(clusterLoad, latency);
  if (rows.length === 0) return [];
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [
    '## Online serving goals (issue 18): the newest online-load (cluster) and online-latency results',
    '',
    line(['goal', 'measured', 'same-run floor', 'status']),
    line(['---', '---', '---', '---']),
    ...rows.map(line),
    '',
  ];
}
