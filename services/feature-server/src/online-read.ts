import {
  RowDecoder,
  TesseraError,
  entityKey,
  entityKeyProblem,
  groupField,
  groupValueProblem,
  viewField,
} from '@tessera/core';
import type {
  FeatureValue,
  JoinKeySpec,
  JoinKeyValue,
  OnlineLookup,
  OnlineStore,
  RegisteredView,
  ResolvedFeatures,
  ValueType,
} from '@tessera/core';
import { toColumn, toProtoValueType } from '@tessera/wire';
import { FeatureStatus } from '@tessera/proto';
import type { FeatureColumn, GetOnlineFeaturesResponse } from '@tessera/proto';
import type { ServerTelemetry } from './server-telemetry.js';
import {
  aggregateGroupRows,
  aggregateRows,
  aggregationReads,
  onlinePlanIndex,
  servedFields,
} from './online-aggregations.js';
import type { AggregatedRows, AggregationRead, GroupAggregationRead } from './online-aggregations.js';
import { CURRENT_GENERATION, groupFieldsOf, viewAggregations } from './view-aggregations.js';
import type { TileGenerations } from './tile-generations.js';

/** Views that share one entity key (the same entities, so the same hash) are read with one HMGET. */
interface KeyGroup {
  readonly entities: readonly string[];
  readonly joinKeys: readonly JoinKeySpec[];
  readonly fields: readonly string[];
  /** Per field: the view, and which of its features the request wants (storage indexes). */
  readonly views: readonly {
    readonly view: RegisteredView;
    readonly wanted: readonly number[];
    readonly decoder: RowDecoder;
  }[];
  /** Event views whose window aggregations are requested; their fields follow the views' fields. */
  readonly aggregations: readonly AggregationRead[];
  /** Requested grouped aggregations per (view, group feature); each row's group fields follow `fields`. */
  readonly groupReads: readonly GroupAggregationRead[];
}

/** One output column: where its values come from. */
interface OutputFeature {
  readonly ref: string;
  readonly type: ValueType;
  readonly group: number;
  readonly viewSlot: number;
  /** Position of the feature within its view's `wanted` list. */
  readonly wantedSlot: number;
  readonly ttlMillis: number;
  /**
   * A window aggregation: its view's slot in the group's `aggregations` (grouped: in `groupReads`),
   * its index in that plan.
   */
  readonly aggregation?: { readonly slot: number; readonly index: number; readonly grouped: boolean };
}

/**
 * A read plan: everything about a request that depends only on its feature list and the
 * registry, computed once and cached, so the hot path does no registry work per request.
 */
export interface ReadPlan {
  readonly groups: readonly KeyGroup[];
  readonly outputs: readonly OutputFeature[];
  /** Every join key the request must carry, with its type (group columns of grouped aggregations too). */
  readonly joinKeys: readonly JoinKeySpec[];
  /** The names in `joinKeys` that are group columns (§1.8), not join keys. */
  readonly groupColumns: readonly string[];
}

/** Builds a read plan from the registry's resolution of a request's features (in request order). */
export function buildReadPlan(resolved: ResolvedFeatures): ReadPlan {
  const groups: {
    entities: readonly string[];
    joinKeys: readonly JoinKeySpec[];
    fields: string[];
    views: { view: RegisteredView; wanted: number[] }[];
    aggregations: RegisteredView[];
    groupReads: GroupAggregationRead[];
  }[] = [];
  const groupColumns: string[] = [];
  const groupByEntities = new Map<string, number>();
  const joinKeys = new Map<string, JoinKeySpec>();
  const outputs: OutputFeature[] = [];
  for (const wanted of resolved.features) {
    const f = { view: resolved.views[wanted.viewSlot]!.view, featureIndex: wanted.featureIndex, ref: wanted.ref };
    const entitiesId = f.view.entities.join(',');
    let g = groupByEntities.get(entitiesId);
    if (g === undefined) {
      g = groups.length;
      groupByEntities.set(entitiesId, g);
      groups.push({
        entities: f.view.entities,
        joinKeys: f.view.joinKeys,
        fields: [],
        views: [],
        aggregations: [],
        groupReads: [],
      });
      for (const key of f.view.joinKeys) {
        const seen = joinKeys.get(key.name);
        if (seen && seen.type !== key.type) {
          throw new TesseraError(
            'INVALID_ARGUMENT',
            `join key ${key.name} is ${seen.type} in one requested view and ${key.type} in ${f.view.name}@${f.view.version}`,
          );
        }
        joinKeys.set(key.name, key);
      }
    }
    const group = groups[g]!;
    if (wanted.aggregationIndex !== undefined) {
      // Read with the entity's other fields (one read per entity), computed after the read.
      const { group: grouped, index } = onlinePlanIndex(f.view, wanted.aggregationIndex);
      let slot: number;
      if (grouped === undefined) {
        slot = group.aggregations.indexOf(f.view);
        if (slot < 0) slot = group.aggregations.push(f.view) - 1;
      } else {
        // The group column is one more entity column of the request (§1.8), like a join key.
        slot = group.groupReads.findIndex((r) => r.view === f.view && r.group === grouped);
        if (slot < 0) slot = group.groupReads.push({ view: f.view, group: grouped, column: grouped.feature }) - 1;
        const seen = joinKeys.get(grouped.feature);
        if (seen && seen.type !== grouped.type) {
          throw new TesseraError(
            'INVALID_ARGUMENT',
            `entity column ${grouped.feature} is ${seen.type} for one requested feature and ${grouped.type} for ${f.ref} (grouped by ${grouped.feature})`,
          );
        }
        joinKeys.set(grouped.feature, { name: grouped.feature, type: grouped.type });
        if (!groupColumns.includes(grouped.feature)) groupColumns.push(grouped.feature);
      }
      const aggregation = { slot, index, grouped: grouped !== undefined };
      outputs.push({
        ref: f.ref,
        type: wanted.type,
        group: g,
        viewSlot: -1,
        wantedSlot: -1,
        ttlMillis: 0,
        aggregation,
      });
      continue;
    }
    const field = viewField(f.view.id, f.view.version);
    let viewSlot = group.fields.indexOf(field);
    if (viewSlot < 0) {
      viewSlot = group.fields.length;
      group.fields.push(field);
      group.views.push({ view: f.view, wanted: [] });
    }
    const slot = group.views[viewSlot]!;
    let wantedSlot = slot.wanted.indexOf(f.featureIndex);
    if (wantedSlot < 0) {
      wantedSlot = slot.wanted.length;
      slot.wanted.push(f.featureIndex);
    }
    const feature = f.view.features[f.featureIndex];
    if (!feature) throw new TesseraError('INTERNAL', `feature index ${f.featureIndex} out of range in ${f.ref}`);
    outputs.push({
      ref: f.ref,
      type: feature.type,
      group: g,
      viewSlot,
      wantedSlot,
      ttlMillis: f.view.ttlSeconds * 1000,
    });
  }
  const compiled: KeyGroup[] = groups.map((g) => {
    const fields = [...g.fields];
    const aggregations = aggregationReads(g.aggregations, fields);
    return {
      ...g,
      fields,
      aggregations,
      views: g.views.map((v) => ({
        ...v,
        decoder: new RowDecoder(
          v.view.features.map((f) => f.type),
          v.wanted,
        ),
      })),
    };
  });
  return { groups: compiled, outputs, joinKeys: [...joinKeys.values()], groupColumns };
}

/** Executes a read plan for `rows` entities and builds the columnar response. */
export async function executeReadPlan(
  store: OnlineStore,
  plan: ReadPlan,
  rows: number,
  keyValues: ReadonlyMap<string, JoinKeyValue[]>,
  options: {
    deadlineMillis?: number;
    includeEventTimestamps: boolean;
    nowMillis: number;
    /**
     * Keep the value of a row older than its view's TTL (its status stays EXPIRED): for front doors
     * that serve stale values on purpose (the Feast endpoints' `serve-stale`). Default: null.
     */
    keepExpiredValues?: boolean;
    /** Counts served values by status and notes each view's newest event served. */
    telemetry?: ServerTelemetry;
    /** The served tile generation of an event view (design §3.6); generation 1 without it. */
    tileGenerations?: TileGenerations;
  },
): Promise<GetOnlineFeaturesResponse> {
  const metrics = options.telemetry?.metrics;
  const lookups: OnlineLookup[] = [];
  for (const group of plan.groups) {
    const fields = servedFields(group.fields, group.aggregations, options.tileGenerations);
    const cols = group.joinKeys.map((k) => keyValues.get(k.name)!);
    const tuple = new Array<JoinKeyValue>(cols.length);
    for (let i = 0; i < rows; i++) {
      for (let k = 0; k < cols.length; k++) tuple[k] = cols[k]![i]!;
      const key = entityKey(group.entities, tuple);
      const problem = entityKeyProblem(key);
      if (problem !== undefined) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `entities: row ${i}, columns ${group.joinKeys.map((k) => k.name).join(', ')}: ${problem}`,
        );
      }
      lookups.push({
        key,
        fields:
          group.groupReads.length === 0
            ? fields
            : withGroupFields(group, fields, keyValues, i, options.tileGenerations),
      });
    }
  }
  const result = await store.read(
    lookups,
    options.deadlineMillis === undefined ? {} : { deadlineMillis: options.deadlineMillis },
  );

  // Decode each (entity, view) row once, only its wanted features, straight into columns.
  const found: Uint8Array[][] = [];
  const decoded: FeatureValue[][][][] = [];
  const eventTs: Float64Array[][] = [];
  plan.groups.forEach((group, g) => {
    const base = g * rows;
    found[g] = [];
    decoded[g] = [];
    eventTs[g] = [];
    group.views.forEach((slot, v) => {
      const columns = slot.wanted.map(() => new Array<FeatureValue>(rows));
      const present = new Uint8Array(rows);
      const ts = new Float64Array(rows);
      let newest = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < rows; i++) {
        const row = result[base + i]![v];
        if (!row) continue;
        present[i] = 1;
        const at = slot.decoder.decodeInto(row, columns, i);
        ts[i] = at;
        if (at > newest) newest = at;
      }
      if (metrics !== undefined && newest > Number.NEGATIVE_INFINITY)
        options.telemetry?.freshness(slot.view)?.served(newest);
      found[g]![v] = present;
      decoded[g]![v] = columns;
      eventTs[g]![v] = ts;
    });
  });

  const aggregated: AggregatedRows[][] = plan.groups.map((group, g) =>
    group.aggregations.map((read) => aggregateRows(read, result, g * rows, rows, options.nowMillis)),
  );
  const groupAggregated: AggregatedRows[][] = plan.groups.map((group, g) =>
    groupRowsOf(group, result, g * rows, rows, options.nowMillis),
  );

  // Served values by status, counted in locals and added once per request (no labels per value).
  let ok = 0;
  let nulls = 0;
  let notFound = 0;
  let expired = 0;
  const features: FeatureColumn[] = plan.outputs.map((out) => {
    if (out.aggregation !== undefined) {
      const { values, at } = (out.aggregation.grouped ? groupAggregated : aggregated)[out.group]![
        out.aggregation.slot
      ]!;
      const column = values[out.aggregation.index]!;
      for (const value of column)
        if (value === null) nulls++;
        else ok++;
      return {
        ref: out.ref,
        type: toProtoValueType(out.type),
        values: toColumn(out.type, column),
        statuses: new Array<FeatureStatus>(rows).fill(FeatureStatus.FEATURE_STATUS_PRESENT),
        eventTimestamps: options.includeEventTimestamps ? Array.from(at, (t) => BigInt(t)) : [],
      };
    }
    const values = new Array<FeatureValue>(rows);
    const statuses = new Array<FeatureStatus>(rows);
    const present = found[out.group]![out.viewSlot]!;
    const column = decoded[out.group]![out.viewSlot]![out.wantedSlot]!;
    const ts = eventTs[out.group]![out.viewSlot]!;
    const timestamps: bigint[] = options.includeEventTimestamps ? new Array<bigint>(rows) : [];
    for (let i = 0; i < rows; i++) {
      if (!present[i]) {
        values[i] = null;
        statuses[i] = FeatureStatus.FEATURE_STATUS_NOT_FOUND;
        notFound++;
        if (options.includeEventTimestamps) timestamps[i] = 0n;
        continue;
      }
      const at = ts[i]!;
      if (options.includeEventTimestamps) timestamps[i] = BigInt(at);
      if (out.ttlMillis > 0 && options.nowMillis - at > out.ttlMillis) {
        values[i] = options.keepExpiredValues === true ? (column[i] ?? null) : null;
        statuses[i] = FeatureStatus.FEATURE_STATUS_EXPIRED;
        expired++;
      } else {
        const value = column[i] ?? null;
        values[i] = value;
        statuses[i] = FeatureStatus.FEATURE_STATUS_PRESENT;
        if (value === null) nulls++;
        else ok++;
      }
    }
    return {
      ref: out.ref,
      type: toProtoValueType(out.type),
      values: toColumn(out.type, values),
      statuses,
      eventTimestamps: timestamps,
    };
  });
  if (metrics !== undefined) {
    metrics.served.ok.inc(ok);
    metrics.served.null.inc(nulls);
    metrics.served.not_found.inc(notFound);
    metrics.served.expired.inc(expired);
  }
  return { features };
}

/**
 * A row's fields with its group fields appended (§1.8): per grouped read, the fields of the row's
 * group value in its view's served generation (§3.6), in `groupReads` order, so one entity is
 * still one read.
 */
function withGroupFields(
  group: KeyGroup,
  fields: readonly string[],
  keyValues: ReadonlyMap<string, JoinKeyValue[]>,
  row: number,
  generations: TileGenerations | undefined,
): string[] {
  const out = [...fields];
  for (const read of group.groupReads) {
    const value = keyValues.get(read.column)![row]!;
    const problem = groupValueProblem(value);
    if (problem !== undefined) {
      throw new TesseraError('INVALID_ARGUMENT', `entities: row ${row}, column ${read.column}: ${problem}`);
    }
    const compiled = viewAggregations(read.view)!;
    const generation = generations?.of(read.view) ?? CURRENT_GENERATION;
    out.push(...groupFieldsOf(read.group, groupField(compiled.field, read.group.featureIndex, value), generation));
  }
  return out;
}

/** Each grouped read of a key group, over its rows (their group fields follow the group's own fields). */
function groupRowsOf(
  group: KeyGroup,
  result: readonly (readonly (Uint8Array | null)[])[],
  base: number,
  rows: number,
  nowMillis: number,
): AggregatedRows[] {
  let first = group.fields.length;
  return group.groupReads.map((read) => {
    const at = first;
    first += read.group.fieldNames.length + 1;
    return aggregateGroupRows(read, () => at, result, base, rows, nowMillis);
  });
}
