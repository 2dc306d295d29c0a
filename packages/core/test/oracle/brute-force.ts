/**
 * Brute-force aggregations written from design §1 alone (docs/design/window-aggregations.md). It
 * imports nothing from Tessera: its own window formula in BigInt, its own identity by content, its
 * own canonical bytes and fp over node:crypto, its own aggregators by sorting and scanning, its own
 * HyperLogLog from §1.9. The oracle test holds Tessera's fold / merge / finalize to it.
 */

import { createHash } from 'node:crypto';

export type BruteType = 'int64' | 'double' | 'string' | 'timestamp' | 'bool';
export type BruteValue = bigint | number | string | boolean | null;

export interface BruteEvent {
  readonly entityKey: string;
  readonly ts: number;
  /** Features in storage order. */
  readonly values: readonly BruteValue[];
}

export interface BruteSpec {
  readonly fn:
    'count' | 'sum' | 'mean' | 'min' | 'max' | 'last' | 'last_n' | 'first_ts' | 'last_ts' | 'approx_distinct';
  readonly input: number | null;
  readonly windowMillis: number; // 0 = unbounded
  readonly hopMillis: number;
  readonly n: number;
  readonly precision: number;
}

export type BruteResult = bigint | number | string | boolean | null | bigint[] | number[] | string[];

/** §1.1 floor in BigInt: the greatest multiple of h ≤ x (BigInt `%` truncates, hence the fix-up). */
export function bruteFloor(x: number, h: number): number {
  const bx = BigInt(x);
  const bh = BigInt(h);
  let r = bx % bh;
  if (r < 0n) r += bh;
  return Number(bx - r);
}

/** §1.2: −0 as +0 (and the same for identity). */
function norm(v: BruteValue): BruteValue {
  return typeof v === 'number' && v === 0 ? 0 : v;
}

/** §1.2 canonical bytes, written from the paragraph. */
export function bruteCanonicalBytes(
  viewId: number,
  version: number,
  types: readonly BruteType[],
  e: BruteEvent,
): Buffer {
  const parts: Buffer[] = [];
  const u32 = (x: number): void => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(x);
    parts.push(b);
  };
  const f64 = (x: number): void => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(x === 0 ? 0 : x);
    parts.push(b);
  };
  u32(viewId);
  u32(version);
  const key = Buffer.from(e.entityKey, 'utf8');
  u32(key.length);
  parts.push(key);
  f64(e.ts);
  types.forEach((type, i) => {
    const v = e.values[i] ?? null;
    if (v === null) {
      parts.push(Buffer.from([0]));
      return;
    }
    parts.push(Buffer.from([1]));
    if (type === 'int64') {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(v as bigint);
      parts.push(b);
    } else if (type === 'double' || type === 'timestamp') {
      f64(v as number);
    } else if (type === 'string') {
      const s = Buffer.from(v as string, 'utf8');
      u32(s.length);
      parts.push(s);
    } else {
      parts.push(Buffer.from([v === true ? 1 : 0]));
    }
  });
  return Buffer.concat(parts);
}

export function bruteFingerprint(viewId: number, version: number, types: readonly BruteType[], e: BruteEvent): Buffer {
  return createHash('sha256')
    .update(bruteCanonicalBytes(viewId, version, types, e))
    .digest()
    .subarray(0, 16);
}

interface Keyed {
  readonly e: BruteEvent;
  readonly fp: Buffer;
}

/** Events as a set: identity is (entity, ts, values), −0 as +0. */
export function bruteDistinct(events: readonly BruteEvent[]): BruteEvent[] {
  const seen = new Map<string, BruteEvent>();
  for (const e of events) {
    const key = JSON.stringify([e.entityKey, e.ts, e.values.map((v) => (typeof v === 'bigint' ? `n${v}` : norm(v)))]);
    if (!seen.has(key)) seen.set(key, e);
  }
  return [...seen.values()];
}

function byTsFp(a: Keyed, b: Keyed): number {
  if (a.e.ts !== b.e.ts) return a.e.ts < b.e.ts ? -1 : 1;
  return Buffer.compare(a.fp, b.fp);
}

/** §1.9 (bucket, rho) in BigInt. */
export function bruteHllCode(bytes: Buffer, p: number): { bucket: number; rho: number } {
  const d = createHash('sha256').update(bytes).digest();
  let h = 0n;
  for (let i = 0; i < 8; i++) h = (h << 8n) | BigInt(d[i] as number);
  const mask = (1n << 64n) - 1n;
  const bucket = Number(h >> BigInt(64 - p));
  const w = ((h << BigInt(p)) & mask) | (1n << BigInt(p - 1));
  let clz = 0;
  for (let bit = 63n; bit >= 0n && ((w >> bit) & 1n) === 0n; bit--) clz++;
  return { bucket, rho: clz + 1 };
}

/** §1.9 estimate: Z summed exactly, then α·m·m/Z, small-range m·ln(m/V), rounded. */
export function bruteHllEstimate(registers: readonly number[]): number {
  const m = registers.length;
  let exact = 0n;
  let zeros = 0;
  for (const r of registers) {
    exact += 1n << BigInt(64 - r);
    if (r === 0) zeros++;
  }
  const z = Number(exact) / 2 ** 64;
  const alpha = 0.7213 / (1 + 1.079 / m);
  let e = (alpha * m * m) / z;
  if (e <= 2.5 * m && zeros > 0) e = m * Math.log(m / zeros);
  return Math.round(e);
}

/**
 * The value of `spec` for one entity at query time t over the given (already deduplicated, eligible)
 * events of that entity, as §1.4 and §1.7 define it.
 */
export function bruteAggregate(
  spec: BruteSpec,
  types: readonly BruteType[],
  events: readonly Keyed[],
  t: number,
): BruteResult {
  const start = spec.windowMillis === 0 ? -Infinity : bruteFloor(t - spec.windowMillis, spec.hopMillis);
  const inWindow = events.filter((k) => k.e.ts >= start && k.e.ts <= t).sort(byTsFp);
  const input = spec.input;
  const withInput = input === null ? inWindow : inWindow.filter((k) => (k.e.values[input] ?? null) !== null);
  const vals = withInput.map((k) => norm(k.e.values[input ?? 0] ?? null));
  const type = input === null ? undefined : types[input];
  switch (spec.fn) {
    case 'count':
      return BigInt(withInput.length);
    case 'sum':
      if (type === 'int64')
        return BigInt.asIntN(
          64,
          (vals as bigint[]).reduce((a, b) => a + b, 0n),
        );
      return (vals as number[]).reduce((a, b) => a + b, 0);
    case 'mean': {
      if (vals.length === 0) return null;
      if (type === 'int64')
        return (
          Number(
            BigInt.asIntN(
              64,
              (vals as bigint[]).reduce((a, b) => a + b, 0n),
            ),
          ) / vals.length
        );
      return (vals as number[]).reduce((a, b) => a + b, 0) / vals.length;
    }
    case 'min':
    case 'max': {
      if (vals.length === 0) return null;
      const sorted = [...vals].sort((a, b) =>
        (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0,
      );
      return (spec.fn === 'min' ? sorted[0] : sorted[sorted.length - 1]) as BruteResult;
    }
    case 'last':
      return vals.length === 0 ? null : (vals[vals.length - 1] as BruteResult);
    case 'last_n': {
      const newest = vals.slice(-spec.n).reverse();
      return type === 'timestamp'
        ? (newest as number[]).map((x) => BigInt(x))
        : (newest as bigint[] | number[] | string[]);
    }
    case 'first_ts':
      return inWindow.length === 0 ? null : (inWindow[0] as Keyed).e.ts;
    case 'last_ts':
      return inWindow.length === 0 ? null : (inWindow[inWindow.length - 1] as Keyed).e.ts;
    case 'approx_distinct': {
      const registers = new Array<number>(1 << spec.precision).fill(0);
      for (const v of vals) {
        const bytes = Buffer.from(typeof v === 'bigint' ? v.toString() : (v as string), 'utf8');
        const { bucket, rho } = bruteHllCode(bytes, spec.precision);
        registers[bucket] = Math.max(registers[bucket] as number, rho);
      }
      return BigInt(bruteHllEstimate(registers));
    }
  }
}

/** Keys events by their fp for the tie order. */
export function bruteKeyed(
  viewId: number,
  version: number,
  types: readonly BruteType[],
  events: readonly BruteEvent[],
): Keyed[] {
  return events.map((e) => ({ e, fp: bruteFingerprint(viewId, version, types, e) }));
}

/** §1.10's bound for a double sum of n terms: |a − b| ≤ 4·n·ε·Σ|xᵢ|. */
export function bruteSumTolerance(spec: BruteSpec, events: readonly Keyed[], t: number): number {
  const start = spec.windowMillis === 0 ? -Infinity : bruteFloor(t - spec.windowMillis, spec.hopMillis);
  const input = spec.input ?? 0;
  const xs = events
    .filter((k) => k.e.ts >= start && k.e.ts <= t && (k.e.values[input] ?? null) !== null)
    .map((k) => Math.abs(k.e.values[input] as number));
  const abs = xs.reduce((a, b) => a + b, 0);
  const bound = 4 * xs.length * 2 ** -53 * abs;
  return spec.fn === 'mean' && xs.length > 0 ? bound / xs.length : bound;
}
