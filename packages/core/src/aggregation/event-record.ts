/**
 * The event record (design §3.2, §3.3): one eligible event of an event view as the online stores
 * receive it (the Lua script's ARGV, the LMDB fold) and keep it in the entity's pending list
 * (events with ts > acceptedAt, §1.5). It carries only what the view's aggregations read, so
 * both stores fold it without the view's packed row. Little-endian:
 *
 *   f64 ts | 16 B fp | null bits: ceil(k/8) bytes, bit i of byte i>>3 set = input i is null
 *   | per non-null input i, in input order: int64 8 B two's complement; double and timestamp f64
 *     (−0 written as +0); bool 8 B (0/1 in the first byte); string u32 length + UTF-8
 *   | per approx_distinct aggregation, in plan order, whose input is not null: u32 HLL code
 *
 * The inputs (k of them) are the distinct input features of the plan's aggregations, in ascending
 * storage index. The pending list is `u8 format = 1, u32 count`, then per event `u32 length` and
 * its record, sorted by (ts, fp) ascending with no (ts, fp) twice.
 */

import type { FeatureValue } from '../model.js';
import type { AggregationPlan } from './entity-state.js';
import type { AggregationInputType } from './spec.js';
import { TesseraError } from '../errors.js';
import { FINGERPRINT_BYTES, compareEventOrder } from './fingerprint.js';
import { hllCodeOfInt64, hllCodeOfString } from './hll.js';

export const PENDING_LIST_FORMAT = 1;

/** What an event record holds for a plan: its inputs and its HLL codes. */
export interface EventRecordLayout {
  /** Storage indexes of the inputs, ascending. */
  readonly inputs: readonly number[];
  readonly types: readonly AggregationInputType[];
  /** Per approx_distinct aggregation (plan order): the position of its input in `inputs`, its precision. */
  readonly hll: readonly { readonly input: number; readonly precision: number }[];
  /** One past the largest input storage index: the length of a decoded `values` array. */
  readonly valuesLength: number;
}

/** A decoded record: `values` indexed by storage index (null where not an input or null). */
export interface EventRecord {
  readonly tsMillis: number;
  readonly fp: Uint8Array;
  readonly values: readonly FeatureValue[];
}

const layouts = new WeakMap<AggregationPlan, EventRecordLayout>();

/** The record layout of a plan (computed once per plan object). */
export function eventRecordLayout(plan: AggregationPlan): EventRecordLayout {
  const known = layouts.get(plan);
  if (known !== undefined) return known;
  const byIndex = new Map<number, AggregationInputType>();
  for (const spec of plan.specs) if (spec.input !== null) byIndex.set(spec.input.index, spec.input.type);
  const inputs = [...byIndex.keys()].sort((a, b) => a - b);
  const hll = plan.specs
    .filter((s) => s.function === 'approx_distinct')
    .map((s) => ({ input: inputs.indexOf((s.input as { index: number }).index), precision: s.precision }));
  const layout: EventRecordLayout = {
    inputs,
    types: inputs.map((i) => byIndex.get(i) as AggregationInputType),
    hll,
    valuesLength: inputs.length === 0 ? 0 : (inputs[inputs.length - 1] as number) + 1,
  };
  layouts.set(plan, layout);
  return layout;
}

/** Encodes one event; `values` are the view's features in storage order, memory form. */
export function encodeEventRecord(
  layout: EventRecordLayout,
  tsMillis: number,
  fp: Uint8Array,
  values: readonly FeatureValue[],
): Uint8Array {
  const k = layout.inputs.length;
  const nullBytes = (k + 7) >> 3;
  const strings: (Buffer | undefined)[] = new Array<Buffer | undefined>(k);
  let size = 8 + FINGERPRINT_BYTES + nullBytes;
  for (let i = 0; i < k; i++) {
    const v = values[layout.inputs[i] as number] ?? null;
    if (v === null) continue;
    if (layout.types[i] === 'string') {
      const utf8 = Buffer.from(v as string, 'utf8');
      strings[i] = utf8;
      size += 4 + utf8.byteLength;
    } else size += 8;
  }
  for (const h of layout.hll) if ((values[layout.inputs[h.input] as number] ?? null) !== null) size += 4;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setFloat64(0, tsMillis, true);
  out.set(fp.subarray(0, FINGERPRINT_BYTES), 8);
  let at = 8 + FINGERPRINT_BYTES + nullBytes;
  for (let i = 0; i < k; i++) {
    const v = values[layout.inputs[i] as number] ?? null;
    if (v === null) {
      out[8 + FINGERPRINT_BYTES + (i >> 3)] = (out[8 + FINGERPRINT_BYTES + (i >> 3)] as number) | (1 << (i & 7));
      continue;
    }
    switch (layout.types[i]) {
      case 'string': {
        const utf8 = strings[i] as Buffer;
        view.setUint32(at, utf8.byteLength, true);
        out.set(utf8, at + 4);
        at += 4 + utf8.byteLength;
        continue;
      }
      case 'int64':
        view.setBigInt64(at, v as bigint, true);
        break;
      case 'bool':
        out[at] = v === true ? 1 : 0;
        break;
      default:
        view.setFloat64(at, (v as number) === 0 ? 0 : (v as number), true);
    }
    at += 8;
  }
  for (const h of layout.hll) {
    const v = values[layout.inputs[h.input] as number] ?? null;
    if (v === null) continue;
    view.setUint32(
      at,
      typeof v === 'bigint' ? hllCodeOfInt64(v, h.precision) : hllCodeOfString(v as string, h.precision),
      true,
    );
    at += 4;
  }
  return out;
}

/** Decodes the record at `offset` of `bytes` (HLL codes are skipped: the TS fold recomputes them). */
export function decodeEventRecord(
  layout: EventRecordLayout,
  bytes: Uint8Array,
  offset = 0,
): { record: EventRecord; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const k = layout.inputs.length;
  const tsMillis = view.getFloat64(offset, true);
  const fp = bytes.slice(offset + 8, offset + 8 + FINGERPRINT_BYTES);
  const nullAt = offset + 8 + FINGERPRINT_BYTES;
  let at = nullAt + ((k + 7) >> 3);
  const values = new Array<FeatureValue>(layout.valuesLength).fill(null);
  let hllCodes = 0;
  const present: boolean[] = [];
  for (let i = 0; i < k; i++) {
    if ((((bytes[nullAt + (i >> 3)] as number) >> (i & 7)) & 1) === 1) {
      present.push(false);
      continue;
    }
    present.push(true);
    const index = layout.inputs[i] as number;
    switch (layout.types[i]) {
      case 'string': {
        const length = view.getUint32(at, true);
        values[index] = Buffer.from(bytes.buffer, bytes.byteOffset + at + 4, length).toString('utf8');
        at += 4 + length;
        continue;
      }
      case 'int64':
        values[index] = view.getBigInt64(at, true);
        break;
      case 'bool':
        values[index] = bytes[at] === 1;
        break;
      default:
        values[index] = view.getFloat64(at, true);
    }
    at += 8;
  }
  for (const h of layout.hll) if (present[h.input] === true) hllCodes++;
  return { record: { tsMillis, fp, values }, end: at + 4 * hllCodes };
}

/** Encodes a pending list of records (each from `encodeEventRecord`); sorts them by (ts, fp), drops repeats. */
export function encodePendingList(records: readonly Uint8Array[]): Uint8Array {
  const sorted = [...records].sort((a, b) => compareRecords(a, b));
  const unique = sorted.filter((r, i) => i === 0 || compareRecords(sorted[i - 1] as Uint8Array, r) !== 0);
  let size = 5;
  for (const r of unique) size += 4 + r.byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = PENDING_LIST_FORMAT;
  view.setUint32(1, unique.length, true);
  let at = 5;
  for (const r of unique) {
    view.setUint32(at, r.byteLength, true);
    out.set(r, at + 4);
    at += 4 + r.byteLength;
  }
  return out;
}

/** The records of a pending list, in its (ts, fp) order, each as its own bytes. */
export function pendingListRecords(list: Uint8Array): Uint8Array[] {
  if (list.byteLength < 5 || list[0] !== PENDING_LIST_FORMAT) {
    throw new TesseraError('INTERNAL', `Pending list: unknown format ${list[0] ?? 'none'}`);
  }
  const view = new DataView(list.buffer, list.byteOffset, list.byteLength);
  const count = view.getUint32(1, true);
  const out: Uint8Array[] = [];
  let at = 5;
  for (let i = 0; i < count; i++) {
    const length = view.getUint32(at, true);
    out.push(list.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

function compareRecords(a: Uint8Array, b: Uint8Array): number {
  const ta = new DataView(a.buffer, a.byteOffset, 8).getFloat64(0, true);
  const tb = new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
  return compareEventOrder(ta, a.subarray(8, 8 + FINGERPRINT_BYTES), tb, b.subarray(8, 8 + FINGERPRINT_BYTES));
}
