/**
 * Compares a registered view with its new definition and decides whether the stored values stay
 * readable (compatible: the version stays) or not (breaking: a new version). Also the
 * human-readable lines of each difference.
 */
import type {
  AggregationDef,
  Constraints,
  EntityDef,
  FeatureDef,
  FeatureViewDef,
  JoinKeySpec,
  RegisteredAggregation,
  RegisteredView,
  SourceDef,
} from '../model.js';
import { formatTtl } from '../definitions/ttl.js';
import {
  DEFAULT_HLL_PRECISION,
  describeAggregationShape,
  effectiveEventOptions,
  effectiveHopMillis,
  formatWindow,
  registerAggregation,
} from '../definitions/aggregation-rules.js';
import { describeSqlView, diffSqlView } from './sql-view-diff.js';

export interface ViewDiff {
  /** Lines ending in "(breaking)": the stored values of the latest version no longer fit. */
  readonly breaking: readonly string[];
  readonly compatible: readonly string[];
  /** The features of the in-place update: storage order kept, new features appended. */
  readonly features: readonly FeatureDef[];
  /** The aggregations of the in-place update: order kept, new ones appended, changed ones re-versioned. */
  readonly aggregations: readonly RegisteredAggregation[];
}

/** Differences from the latest registered version to a definition with the given join keys. */
export function diffView(latest: RegisteredView, def: FeatureViewDef, joinKeys: readonly JoinKeySpec[]): ViewDiff {
  const breaking: string[] = [];
  const compatible: string[] = [];
  if (latest.entities.join(',') !== def.entities.join(',')) {
    breaking.push(`entities: ${latest.entities.join(', ')} -> ${def.entities.join(', ')} (breaking)`);
  } else if (describeJoinKeys(latest.joinKeys) !== describeJoinKeys(joinKeys)) {
    breaking.push(`join keys: ${describeJoinKeys(latest.joinKeys)} -> ${describeJoinKeys(joinKeys)} (breaking)`);
  }

  const byName = new Map(def.features.map((f) => [f.name, f]));
  const features: FeatureDef[] = [];
  for (const old of latest.features) {
    const next = byName.get(old.name);
    if (next === undefined) {
      breaking.push(`feature ${old.name}: removed (breaking)`);
      continue;
    }
    if (next.type !== old.type) breaking.push(`feature ${old.name}: type ${old.type} -> ${next.type} (breaking)`);
    if (next.dimension !== old.dimension) {
      breaking.push(`feature ${old.name}: dimension ${old.dimension} -> ${next.dimension} (breaking)`);
    }
    const oldConstraints = describeConstraints(old.constraints);
    const newConstraints = describeConstraints(next.constraints);
    if (oldConstraints !== newConstraints) {
      compatible.push(`feature ${old.name}: constraints ${oldConstraints} -> ${newConstraints}`);
    }
    if (next.description !== old.description) compatible.push(`feature ${old.name}: description changed`);
    if (describeTags(next.tags) !== describeTags(old.tags)) {
      compatible.push(`feature ${old.name}: tags ${describeTags(old.tags)} -> ${describeTags(next.tags)}`);
    }
    features.push(next);
  }
  const known = new Set(latest.features.map((f) => f.name));
  for (const feature of def.features) {
    if (known.has(feature.name)) continue;
    compatible.push(`feature ${feature.name}: added (${describeType(feature)})`);
    features.push(feature);
  }

  if (def.ttlSeconds !== latest.ttlSeconds) {
    compatible.push(`ttl: ${formatTtl(latest.ttlSeconds)} -> ${formatTtl(def.ttlSeconds)}`);
  }
  if (def.owner !== latest.owner) compatible.push(`owner: ${quote(latest.owner)} -> ${quote(def.owner)}`);
  if (def.description !== latest.description) compatible.push('description changed');
  if (describeTags(def.tags) !== describeTags(latest.tags)) {
    compatible.push(`tags: ${describeTags(latest.tags)} -> ${describeTags(def.tags)}`);
  }
  if (describeSource(def.source) !== describeSource(latest.source)) {
    compatible.push(`source: ${describeSource(latest.source)} -> ${describeSource(def.source)}`);
  }
  const oldKind = latest.kind ?? 'state';
  const newKind = def.kind ?? 'state';
  if (oldKind !== newKind) {
    breaking.push(`kind: ${oldKind} -> ${newKind} (breaking)`);
  } else if (newKind === 'events') {
    // They decide which stored events count, so old and new aggregates of the same events would differ.
    const before = effectiveEventOptions(latest);
    const after = effectiveEventOptions(def);
    if (before.allowedLatenessMillis !== after.allowedLatenessMillis) {
      breaking.push(
        `allowed_lateness: ${formatWindow(before.allowedLatenessMillis)} -> ${formatWindow(after.allowedLatenessMillis)} (breaking)`,
      );
    }
    if (before.futureToleranceMillis !== after.futureToleranceMillis) {
      breaking.push(
        `future_tolerance: ${formatDuration(before.futureToleranceMillis)} -> ${formatDuration(after.futureToleranceMillis)} (breaking)`,
      );
    }
  }
  const aggregations = diffAggregations(
    latest.aggregations ?? [],
    def.aggregations ?? [],
    features,
    compatible,
    breaking,
  );
  if (newKind === 'sql' && oldKind === 'sql') diffSqlView(latest, def, breaking, compatible);
  if (newKind === 'on_demand' && oldKind === 'on_demand') {
    diffOnDemand(latest, def, breaking);
    // Nothing is stored: the features keep the definition's order, which is the expressions' order.
    return { breaking, compatible, features: def.features, aggregations };
  }
  return { breaking, compatible, features, aggregations };
}

/** The registered aggregations of a new view version (spec versions start again at 1). */
export function registerAggregations(
  aggregations: readonly AggregationDef[] | undefined,
  features: readonly FeatureDef[],
): RegisteredAggregation[] {
  return (aggregations ?? []).map((agg) => registerAggregation(agg, inputTypeOf(agg, features), 1));
}

/**
 * Aggregations never change what is stored (they are computed from the events), so design §2.3
 * makes a change compatible and rebuilds the online tiles into a new tile generation. Until that
 * rebuild exists (§6.1, increment 7), adding, changing or removing an aggregation is breaking: a
 * view version's tile layout is frozen (stored tiles are read with the layout of the version's
 * aggregations), so a new layout needs a version of its own, with its own tiles and table.
 * Descriptions and tags stay compatible.
 */
function diffAggregations(
  old: readonly RegisteredAggregation[],
  next: readonly AggregationDef[],
  features: readonly FeatureDef[],
  lines: string[],
  breaking: string[],
): RegisteredAggregation[] {
  const byName = new Map(next.map((a) => [a.name, a]));
  const out: RegisteredAggregation[] = [];
  for (const before of old) {
    const def = byName.get(before.name);
    if (def === undefined) {
      breaking.push(`aggregation ${before.name}: removed (breaking: the version's tile layout changes)`);
      continue;
    }
    const changes = shapeChanges(before, def);
    if (changes.length > 0) {
      breaking.push(`aggregation ${before.name}: ${changes.join(', ')} (breaking: the version's tile layout changes)`);
    }
    if (def.description !== before.description) lines.push(`aggregation ${before.name}: description changed`);
    if (describeTags(def.tags) !== describeTags(before.tags)) {
      lines.push(`aggregation ${before.name}: tags ${describeTags(before.tags)} -> ${describeTags(def.tags)}`);
    }
    const specVersion = changes.length > 0 ? before.specVersion + 1 : before.specVersion;
    out.push(registerAggregation(def, inputTypeOf(def, features), specVersion));
  }
  const known = new Set(old.map((a) => a.name));
  for (const def of next) {
    if (known.has(def.name)) continue;
    breaking.push(
      `aggregation ${def.name}: added (${describeAggregationShape(def)}) (breaking: the version's tile layout changes)`,
    );
    out.push(registerAggregation(def, inputTypeOf(def, features), 1));
  }
  return out;
}

/** `field old -> new` for each field that decides an aggregation's values. */
function shapeChanges(before: AggregationDef, after: AggregationDef): string[] {
  const changes: string[] = [];
  const field = (name: string, a: string, b: string): void => {
    if (a !== b) changes.push(`${name} ${a} -> ${b}`);
  };
  field('function', before.function, after.function);
  field('input', before.input || '(none)', after.input || '(none)');
  field('window', formatWindow(before.windowMillis), formatWindow(after.windowMillis));
  if (before.windowMillis !== 0 && after.windowMillis !== 0) {
    field('hop', formatWindow(effectiveHopMillis(before)), formatWindow(effectiveHopMillis(after)));
  }
  field('n', String(before.n), String(after.n));
  field('precision', String(precisionOf(before)), String(precisionOf(after)));
  field('group_by', before.groupBy || '(none)', after.groupBy || '(none)');
  return changes;
}

function precisionOf(agg: AggregationDef): number {
  return agg.function === 'approx_distinct' && agg.precision === 0 ? DEFAULT_HLL_PRECISION : agg.precision;
}

function inputTypeOf(agg: AggregationDef, features: readonly FeatureDef[]): FeatureDef['type'] | undefined {
  return agg.input === '' ? undefined : features.find((f) => f.name === agg.input)?.type;
}

/** Like formatWindow, but 0 is a duration here (a future tolerance of 0), not "unbounded". */
function formatDuration(millis: number): string {
  return millis === 0 ? '0' : formatWindow(millis);
}

/** Lines describing a new view (or a new version's full shape). */
export function describeNewView(def: FeatureViewDef, joinKeys: readonly JoinKeySpec[]): string[] {
  const events = def.kind === 'events';
  const options = effectiveEventOptions(def);
  const aggregations = def.aggregations ?? [];
  if (def.kind === 'on_demand') {
    const request = (def.onDemand?.requestFields ?? []).map((f) => `${f.name} ${f.type}`);
    return [
      `kind: on_demand (inputs ${(def.onDemand?.inputs ?? []).join(', ')}${request.length > 0 ? `; request fields ${request.join(', ')}` : ''})`,
      `features: ${def.features.map(describeFeature).join(', ')}`,
    ];
  }
  return [
    `entities: ${def.entities.join(', ')} (join keys ${describeJoinKeys(joinKeys)})`,
    ...(events
      ? [
          `kind: events (allowed_lateness ${formatWindow(options.allowedLatenessMillis)}, future_tolerance ${formatDuration(options.futureToleranceMillis)})`,
        ]
      : []),
    `features: ${def.features.map(describeFeature).join(', ')}`,
    ...(aggregations.length === 0
      ? []
      : [`aggregations: ${aggregations.map((a) => `${a.name} = ${describeAggregationShape(a)}`).join(', ')}`]),
    // An event view's aggregations have no TTL: their window is their freshness.
    `ttl: ${formatTtl(def.ttlSeconds)}${events ? ' (plain features only)' : ''}`,
    ...(def.source === undefined ? [] : [`source: ${describeSource(def.source)}`]),
    ...(def.kind === 'sql' && def.sql !== undefined ? describeSqlView(def.sql) : []),
  ];
}

/** Lines describing how an entity changed; join key changes are breaking for its views. */
export function diffEntity(old: EntityDef, next: EntityDef): { joinKeysChanged: boolean; details: string[] } {
  const details: string[] = [];
  const joinKeysChanged = describeJoinKeys(old.joinKeys) !== describeJoinKeys(next.joinKeys);
  if (joinKeysChanged) {
    details.push(
      `join keys: ${describeJoinKeys(old.joinKeys)} -> ${describeJoinKeys(next.joinKeys)} (breaking for its feature views)`,
    );
  }
  if (old.description !== next.description) details.push('description changed');
  if (describeTags(old.tags) !== describeTags(next.tags)) {
    details.push(`tags: ${describeTags(old.tags)} -> ${describeTags(next.tags)}`);
  }
  return { joinKeysChanged, details };
}

export function describeJoinKeys(keys: readonly JoinKeySpec[]): string {
  return keys.map((k) => `${k.name} ${k.type}`).join(', ');
}

export function describeTags(tags: Readonly<Record<string, string>>): string {
  const entries = Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
}

function describeType(feature: FeatureDef): string {
  return feature.dimension === 0 ? feature.type : `${feature.type}[${feature.dimension}]`;
}

function describeFeature(feature: FeatureDef): string {
  return `${feature.name} ${describeType(feature)}`;
}

/** A canonical one-line form of constraints, used both to compare and to show them. */
export function describeConstraints(c: Constraints): string {
  const parts: string[] = [];
  if (c.notNull) parts.push('not_null');
  if (c.min !== undefined) parts.push(`min ${c.min}`);
  if (c.max !== undefined) parts.push(`max ${c.max}`);
  if (c.allowedValues !== undefined) {
    parts.push(
      `allowed_values [${c.allowedValues.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v))).join(', ')}]`,
    );
  }
  if (c.maxLength !== undefined) parts.push(`max_length ${c.maxLength}`);
  if (c.allowNaN) parts.push('allow_nan');
  return parts.length === 0 ? '(none)' : parts.join(', ');
}

function describeSource(source: SourceDef | undefined): string {
  return source === undefined ? '(none)' : `${source.kind} ${quote(source.location)} at ${source.timestampField}`;
}

function quote(text: string): string {
  return JSON.stringify(text);
}

/**
 * Inputs, request fields and expressions decide every value an on-demand view serves: any change
 * makes a new version (old refs `view@1:feature` keep their old meaning).
 */
function diffOnDemand(latest: RegisteredView, def: FeatureViewDef, breaking: string[]): void {
  const before = latest.onDemand;
  const after = def.onDemand;
  const inputsBefore = (before?.inputs ?? []).join(', ');
  const inputsAfter = (after?.inputs ?? []).join(', ');
  if (inputsBefore !== inputsAfter) breaking.push(`inputs: ${inputsBefore} -> ${inputsAfter} (breaking)`);
  const request = (od: FeatureViewDef['onDemand']): string =>
    (od?.requestFields ?? []).map((f) => `${f.name} ${f.type}`).join(', ') || '(none)';
  if (request(before) !== request(after)) {
    breaking.push(`request fields: ${request(before)} -> ${request(after)} (breaking)`);
  }
  const old = new Map(latest.features.map((f, i) => [f.name, before?.expressions[i]]));
  def.features.forEach((feature, i) => {
    const was = old.get(feature.name);
    const now = after?.expressions[i];
    if (was === undefined || now === undefined) return;
    if (was.expression !== now.expression) {
      breaking.push(
        `feature ${feature.name}: expression ${quote(was.expression)} -> ${quote(now.expression)} (breaking)`,
      );
    }
    if (was.evaluateNulls !== now.evaluateNulls) {
      breaking.push(`feature ${feature.name}: evaluate_nulls ${was.evaluateNulls} -> ${now.evaluateNulls} (breaking)`);
    }
  });
}
