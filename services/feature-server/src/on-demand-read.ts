/**
 * GetOnlineFeatures with on-demand features (docs/design/window-aggregations.md §5.2): the plan
 * reads the stored features requested plus every input of the on-demand features requested (even
 * when not requested), and after the read evaluates each on-demand feature per row with the
 * program compiled once per registry state; `now` is the read's t (the time its aggregated inputs
 * were finalised at, §1.5), request fields come as extra entity columns. Requests without
 * on-demand features take the plain path unchanged.
 */
import { TesseraError, evaluateOnDemandColumn, showName } from '@tessera/core';
import type { FeatureValue, OnlineStore, RegistryState, RequestFieldDef, ResolvedFeatures } from '@tessera/core';
import { columnRowCount, columnValueType, fromColumn, toColumn, toProtoValueType } from '@tessera/wire';
import { FeatureStatus } from '@tessera/proto';
import type { Column, FeatureColumn, GetOnlineFeaturesResponse } from '@tessera/proto';
import { buildReadPlan, executeReadPlan } from './online-read.js';
import { readEntityColumns } from './entity-columns.js';
import type { ReadPlan } from './online-read.js';
import { splitOnDemand, type SplitFeatures } from './on-demand-plan.js';

/** A read plan with on-demand features: the stored read, then the evaluation. */
export interface OnlinePlan {
  readonly stored: ReadPlan;
  /** Absent when the request has no on-demand features (the stored response is the answer). */
  readonly onDemand?: SplitFeatures;
}

/** Builds the plan of a request resolved against `state` (the state it was resolved against). */
export function buildOnlinePlan(state: RegistryState, resolved: ResolvedFeatures): OnlinePlan {
  const split = splitOnDemand(state, resolved);
  if (split === undefined) return { stored: buildReadPlan(resolved) };
  return { stored: buildReadPlan(split.stored), onDemand: split };
}

/** Reads the entity columns, the stored features and computes the on-demand ones. */
export async function readOnline(
  store: OnlineStore,
  plan: OnlinePlan,
  entities: { readonly [name: string]: Column },
  maxRows: number,
  options: Parameters<typeof executeReadPlan>[4],
): Promise<GetOnlineFeaturesResponse> {
  const od = plan.onDemand;
  if (od === undefined) {
    const { rows, values } = readEntityColumns(plan.stored, entities, maxRows);
    return executeReadPlan(store, plan.stored, rows, values, options);
  }
  const keys: { [name: string]: Column } = {};
  for (const [name, column] of Object.entries(entities)) {
    // A request field that a grouped input is grouped by is the stored read's group column too (§1.8).
    if (!od.requestFields.some((f) => f.name === name) || plan.stored.groupColumns.includes(name)) keys[name] = column;
  }
  const { rows, values } = readEntityColumns(plan.stored, keys, maxRows);
  const request = od.requestFields.map((field) => requestColumn(field, entities[field.name], rows));
  // Event timestamps are always read: an aggregated input's is the t its window was taken at.
  const response = await executeReadPlan(store, plan.stored, rows, values, {
    ...options,
    includeEventTimestamps: true,
  });
  const decoded = new Map<number, FeatureValue[]>();
  const column = (i: number): FeatureValue[] => {
    let values = decoded.get(i);
    if (values === undefined) {
      values = fromColumn(response.features[i]!.values!);
      decoded.set(i, values);
    }
    return values;
  };
  const metrics = options.telemetry?.metrics;
  const features: FeatureColumn[] = od.outputs.map((out) => {
    if (out.kind === 'stored') {
      const stored = response.features[out.slot]!;
      return options.includeEventTimestamps ? stored : { ...stored, eventTimestamps: [] };
    }
    const { compiled } = out;
    const feature = compiled.view.features[out.featureIndex]!;
    const { values, errors } = evaluateOnDemandColumn(compiled, out.featureIndex, {
      rows,
      inputs: out.inputSlots.map(column),
      request: compiled.scope.requestFields.map((f) => request[od.requestFields.findIndex((r) => r.name === f.name)]!),
      nowMillis: readTime(od, out.inputSlots, response, options.nowMillis),
    });
    metrics?.onDemandErrors(compiled.view.name, feature.name, errors);
    return {
      ref: out.ref,
      type: toProtoValueType(feature.type),
      values: toColumn(feature.type, values),
      statuses: new Array<FeatureStatus>(rows).fill(FeatureStatus.FEATURE_STATUS_PRESENT),
      eventTimestamps: options.includeEventTimestamps ? new Array<bigint>(rows).fill(0n) : [],
    };
  });
  return { features };
}

/**
 * `now` per row (§5.2: online, the read's t). Without aggregated inputs it is the request's time.
 * An aggregated input was finalised at its row's t = max(now, newest event of its tiles) (§1.5),
 * reported as its event timestamp; `now` is the greatest such t of the row, so the row's inputs and
 * `now` are the offline values at that time (the same t for every aggregation of one view; views
 * differ only under cross-server clock skew).
 */
function readTime(
  od: SplitFeatures,
  inputSlots: readonly number[],
  response: GetOnlineFeaturesResponse,
  nowMillis: number,
): (row: number) => number {
  const times = inputSlots
    .filter((slot) => od.stored.features[slot]!.aggregationIndex !== undefined)
    .map((slot) => response.features[slot]!.eventTimestamps);
  if (times.length === 0) return () => nowMillis;
  return (row) => {
    let t = nowMillis;
    for (const column of times) t = Math.max(t, Number(column[row]!));
    return t;
  };
}

/** The values of a request field from its entity column: present, `rows` long, of its type. */
function requestColumn(field: RequestFieldDef, column: Column | undefined, rows: number): FeatureValue[] {
  const what = `entities: request field ${showName(field.name)} (${field.type}, read by an on-demand feature)`;
  if (column === undefined) {
    throw new TesseraError('INVALID_ARGUMENT', `${what} is missing; send it as an extra entity column`);
  }
  const n = columnRowCount(column);
  if (n !== rows) throw new TesseraError('INVALID_ARGUMENT', `${what} has ${n} rows, the join keys have ${rows}`);
  const type = columnValueType(column);
  if (type !== undefined && type !== field.type) {
    throw new TesseraError('INVALID_ARGUMENT', `${what} holds ${type} values`);
  }
  try {
    return type === undefined ? new Array<FeatureValue>(rows).fill(null) : fromColumn(column);
  } catch (error) {
    throw new TesseraError('INVALID_ARGUMENT', `${what}: ${(error as Error).message}`);
  }
}
