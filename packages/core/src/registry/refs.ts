/**
 * Resolves the features a request names (refs or a feature service) against a registry state,
 * into a read plan grouped by view version. Resolution allocates and formats strings, so the
 * online read path must not do it per request: FeatureRefCache keeps one resolution per distinct
 * request for as long as the registry state object stays the same.
 */
import { TesseraError } from '../errors.js';
import type { RegisteredView, ValueType } from '../model.js';
import { viewField } from '../keys.js';
import { parseFeatureRef } from '../definitions/ref-syntax.js';
import { quoteInput } from '../quote.js';
import type { RegistryState } from './state.js';

/** What a request asks for: feature refs, or the name of a feature service (exactly one). */
export interface FeatureRefsInput {
  readonly refs?: readonly string[];
  readonly featureService?: string;
}

/** One view version to read, with the features wanted from it. */
export interface ResolvedView {
  readonly view: RegisteredView;
  /** The view version's online field (`viewField(id, version)`). */
  readonly field: string;
  /** Indexes into `view.features` (storage order), in request order. */
  readonly featureIndexes: readonly number[];
  /** Canonical refs of those features, `view@version:feature` (aligned with featureIndexes). */
  readonly refs: readonly string[];
  /** Indexes into `view.aggregations` (registry order), in request order (window aggregations). */
  readonly aggregationIndexes: readonly number[];
}

/** One requested feature, in request order. */
export interface ResolvedFeature {
  /** Index into ResolvedFeatures.views. */
  readonly viewSlot: number;
  /** Index into that view's features (storage order); −1 for a window aggregation. */
  readonly featureIndex: number;
  /** For a window aggregation: its index into the view's `aggregations` (registry order). */
  readonly aggregationIndex?: number;
  /** Canonical ref, `view@version:feature` (what responses report). */
  readonly ref: string;
  /** The ref as requested, `*` expanded: `view:feature` or `view@2:feature`. */
  readonly name: string;
  readonly type: ValueType;
}

export interface ResolvedFeatures {
  /** Sequence of the registry state it was resolved against. */
  readonly sequence: number;
  /** View versions in order of first appearance in the request. */
  readonly views: readonly ResolvedView[];
  readonly features: readonly ResolvedFeature[];
}

/**
 * Resolves refs (`view:feature`, `view:*`, `view@2:feature`, `view@2:*`) or a feature service.
 * Throws INVALID_ARGUMENT for malformed or repeated refs and NOT_FOUND for unknown views,
 * versions, features and services. `view:*` means the plain features; a window aggregation is
 * named alone (`view:revenue_30d`) and resolves with `aggregationIndex` set and `featureIndex` −1.
 */
export function resolveFeatureRefs(state: RegistryState, input: FeatureRefsInput): ResolvedFeatures {
  const refs = refsOf(state, input);
  const views: {
    view: RegisteredView;
    field: string;
    featureIndexes: number[];
    refs: string[];
    aggregationIndexes: number[];
  }[] = [];
  const slots = new Map<RegisteredView, number>();
  const features: ResolvedFeature[] = [];
  const requestedBy = new Map<string, string>();
  for (const text of refs) {
    const ref = parseFeatureRef(text);
    const view = findView(state, text, ref.view, ref.version);
    let slot = slots.get(view);
    if (slot === undefined) {
      slot = views.length;
      slots.set(view, slot);
      views.push({
        view,
        field: viewField(view.id, view.version),
        featureIndexes: [],
        refs: [],
        aggregationIndexes: [],
      });
    }
    const target = views[slot] as (typeof views)[number];
    const prefix = ref.version === 0 ? ref.view : `${ref.view}@${ref.version}`;
    const aggregation = ref.feature === '*' ? -1 : aggregationIndex(view, ref.feature);
    const indexes =
      ref.feature === '*'
        ? view.features.map((_, i) => i)
        : aggregation >= 0
          ? [aggregation]
          : [featureIndex(view, text, ref.feature)];
    for (const index of indexes) {
      const named = aggregation >= 0 ? view.aggregations![index]! : view.features[index]!;
      const canonical = `${view.name}@${view.version}:${named.name}`;
      const earlier = requestedBy.get(canonical);
      if (earlier !== undefined) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `Feature ref ${quoteInput(text)} requests ${canonical} again (already requested by ${quoteInput(earlier)}); list each feature once`,
        );
      }
      requestedBy.set(canonical, text);
      if (aggregation >= 0) {
        target.aggregationIndexes.push(index);
      } else {
        target.featureIndexes.push(index);
        target.refs.push(canonical);
      }
      features.push({
        viewSlot: slot,
        featureIndex: aggregation >= 0 ? -1 : index,
        ...(aggregation >= 0 ? { aggregationIndex: index } : {}),
        ref: canonical,
        name: `${prefix}:${named.name}`,
        type: named.type,
      });
    }
  }
  return { sequence: state.sequence, views, features };
}

function refsOf(state: RegistryState, input: FeatureRefsInput): readonly string[] {
  const refs = input.refs ?? [];
  const serviceName = input.featureService ?? '';
  if (refs.length > 0 && serviceName !== '') {
    throw new TesseraError('INVALID_ARGUMENT', 'Give either feature refs or a feature service, not both');
  }
  if (serviceName === '') {
    if (refs.length === 0) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        'No features requested: give refs such as customer_stats:* or a feature service',
      );
    }
    return refs;
  }
  const service = state.featureServices.get(serviceName);
  if (service === undefined) {
    const known = [...state.featureServices.keys()].slice(0, 20).join(', ') || '(none)';
    throw new TesseraError(
      'NOT_FOUND',
      `Unknown feature service ${quoteInput(serviceName)}; registered services: ${known}`,
    );
  }
  return service.features;
}

function findView(state: RegistryState, text: string, name: string, version: number): RegisteredView {
  const lineage = state.featureViews.get(name);
  if (lineage === undefined) {
    throw new TesseraError('NOT_FOUND', `Unknown feature ref ${quoteInput(text)}: no feature view ${name}`);
  }
  if (lineage.deletedAtMillis !== undefined) {
    throw new TesseraError('NOT_FOUND', `Unknown feature ref ${quoteInput(text)}: feature view ${name} was deleted`);
  }
  const view = lineage.versions[(version === 0 ? lineage.versions.length : version) - 1];
  if (view === undefined) {
    throw new TesseraError(
      'NOT_FOUND',
      `Unknown feature ref ${quoteInput(text)}: feature view ${name} has no version ${version} (versions 1..${lineage.versions.length})`,
    );
  }
  return view;
}

function aggregationIndex(view: RegisteredView, name: string): number {
  return view.aggregations === undefined ? -1 : view.aggregations.findIndex((a) => a.name === name);
}

function featureIndex(view: RegisteredView, text: string, name: string): number {
  const index = view.features.findIndex((f) => f.name === name);
  if (index < 0) {
    throw new TesseraError(
      'NOT_FOUND',
      `Unknown feature ref ${quoteInput(text)}: view ${view.name}@${view.version} has no feature ${name}`,
    );
  }
  return index;
}

/** A cheap cache key for one request's features: equal keys resolve to equal plans. */
export function featureRefsKey(input: FeatureRefsInput): string {
  const service = input.featureService ?? '';
  const refs = input.refs ?? [];
  if (refs.length === 0) return `s\u0000${service}`;
  return `r\u0000${service}\u0000${refs.join('\u0000')}`;
}

export interface FeatureRefCacheOptions {
  /** Distinct requests kept per registry state; the oldest is dropped beyond it. */
  readonly maxEntries?: number;
}

/**
 * Resolutions of distinct requests against one registry state. A new state object (after an
 * apply anywhere) empties the cache, so a cached plan never outlives the registry it came from.
 * Failed resolutions are not cached.
 */
export class FeatureRefCache {
  private readonly maxEntries: number;
  private state: RegistryState | undefined;
  private readonly entries = new Map<string, ResolvedFeatures>();

  constructor(options: FeatureRefCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1024;
  }

  resolve(state: RegistryState, input: FeatureRefsInput): ResolvedFeatures {
    if (state !== this.state) {
      this.entries.clear();
      this.state = state;
    }
    const key = featureRefsKey(input);
    const hit = this.entries.get(key);
    if (hit !== undefined) return hit;
    const resolved = resolveFeatureRefs(state, input);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, resolved);
    return resolved;
  }
}
