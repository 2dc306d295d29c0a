/**
 * The layout opcodes of `lua/agg-write-2.lua` (format in its header): everything the script needs
 * to know about a view's aggregations, compiled once per {@link AggregationPlan} object, so one
 * script serves every view (design §3.2). The script re-derives nothing: field names, hops, prune
 * windows, record layouts (slot kinds in core's order, contiguous) and the event record's inputs
 * all come from core's compiled plan.
 */

import {
  TesseraError,
  eventRecordLayout,
  hopFieldName,
  isFixedWidthAggregation,
  type AggregationInputType,
  type AggregationPlan,
  type TileLayout,
} from '@tessera/core';

const TYPE_CODES: Readonly<Record<AggregationInputType, number>> = {
  int64: 1,
  double: 2,
  string: 3,
  bool: 4,
  timestamp: 5,
};

/** Variable aggregations: HLL sketch or `last` of a string. */
const VAR_HLL = 1;
const VAR_LAST_STRING = 2;

const cache = new WeakMap<AggregationPlan, Buffer>();

/** Opcode format (the first number). */
const OPCODES_FORMAT = 2;

/** The opcodes of a plan (cached per plan object). */
export function aggLayoutOpcodes(plan: AggregationPlan): Buffer {
  const known = cache.get(plan);
  if (known !== undefined) return known;
  const compiled = compileOpcodes(plan);
  cache.set(plan, compiled);
  return compiled;
}

function compileOpcodes(plan: AggregationPlan): Buffer {
  const records = eventRecordLayout(plan);
  const position = (storageIndex: number): number => {
    const p = records.inputs.indexOf(storageIndex);
    if (p < 0) throw new TesseraError('INTERNAL', `Aggregation opcodes: feature ${storageIndex} is not an input`);
    return p;
  };
  const out: number[] = [OPCODES_FORMAT, records.inputs.length];
  for (const type of records.types) out.push(TYPE_CODES[type]);
  out.push(records.hll.length);
  for (const h of records.hll) out.push(h.input);

  const layoutOps = (layout: TileLayout): number[] => {
    const ops: number[] = [layout.recordBytes, layout.presenceBytes, layout.slots.length];
    let offset = layout.presenceBytes;
    for (const slot of layout.slots) {
      // The script packs slots in order with struct formats: they must be contiguous.
      if (slot.offset !== offset) {
        throw new TesseraError('INTERNAL', `Aggregation opcodes: slot at ${slot.offset}, expected ${offset}`);
      }
      offset += slot.kind === 7 ? 32 : 8;
      ops.push(slot.kind, slot.inputIndex < 0 ? -1 : position(slot.inputIndex), slot.valueKind, slot.presenceBit);
    }
    if (offset !== layout.recordBytes) {
      throw new TesseraError('INTERNAL', `Aggregation opcodes: slots end at ${offset} of ${layout.recordBytes}`);
    }
    return ops;
  };

  const hops = plan.hops.filter((h) => h.layout.slots.length > 0);
  out.push(hops.length);
  for (const hop of hops) {
    let maxWindow = 0;
    for (const a of hop.layout.aggregations) maxWindow = Math.max(maxWindow, a.spec.windowMillis);
    expectName(hop.field, hopFieldName(hop.hopMillis));
    out.push(hop.hopMillis, maxWindow, ...layoutOps(hop.layout));
  }
  if (plan.lifetime.slots.length > 0) out.push(1, ...layoutOps(plan.lifetime));
  else out.push(0);

  out.push(plan.lastN.size);
  for (const [field, { input, n }] of plan.lastN) {
    expectName(field, `n${input}`);
    out.push(input, position(input), n);
  }

  const vars: number[] = [];
  let count = 0;
  let hllPos = 0;
  plan.steps.forEach((step, i) => {
    const spec = plan.specs[i];
    if (spec === undefined) return;
    const isHll = spec.function === 'approx_distinct';
    if (step.kind !== 'hll' && step.kind !== 'last_string') {
      if (isHll) hllPos++;
      return;
    }
    if (isFixedWidthAggregation(spec) || spec.input === null) {
      throw new TesseraError('INTERNAL', `Aggregation opcodes: step ${i} is not a variable aggregation`);
    }
    count++;
    expectName(step.field, `${spec.windowMillis === 0 ? 'life' : hopFieldName(spec.hopMillis)}.a${i}`);
    vars.push(
      isHll ? VAR_HLL : VAR_LAST_STRING,
      i,
      position(spec.input.index),
      isHll ? hllPos : -1,
      isHll ? spec.precision : 0,
      spec.hopMillis,
      spec.windowMillis,
    );
    if (isHll) hllPos++;
  });
  out.push(count, ...vars);
  const bytes = Buffer.alloc(out.length * 8);
  out.forEach((x, j) => bytes.writeDoubleLE(x, j * 8));
  return bytes;
}

/** The script derives field names from numbers: they must be the plan's. */
function expectName(planName: string, derived: string): void {
  if (planName !== derived) {
    throw new TesseraError(
      'INTERNAL',
      `Aggregation opcodes: field ${planName} would be named ${derived} by the script`,
    );
  }
}

/** Names (without the `<field>.g<G>.` prefix) of every aggregation field of a plan. */
export function aggregationFieldNames(plan: AggregationPlan): string[] {
  const names: string[] = plan.hops.filter((h) => h.layout.slots.length > 0).map((h) => h.field);
  if (plan.lifetime.slots.length > 0) names.push('life');
  for (const field of plan.lastN.keys()) names.push(field);
  for (const step of plan.steps) if (step.kind === 'hll' || step.kind === 'last_string') names.push(step.field);
  return names;
}
