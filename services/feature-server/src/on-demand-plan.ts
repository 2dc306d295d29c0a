/**
 * Splits a request's resolved features into what is stored (read from the online or offline
 * store: the requested stored features, then every input of the requested on-demand features,
 * requested or not) and the on-demand features computed from them. Both read paths use it, with
 * the program compiled once per registry state (compiledOnDemandView).
 */
import { TesseraError, compiledOnDemandView, resolveFeatureRefs } from '@tessera/core';
import type {
  CompiledOnDemandView,
  RegistryState,
  RequestFieldDef,
  ResolvedFeature,
  ResolvedFeatures,
  RegisteredView,
} from '@tessera/core';

/** One requested output: a stored feature (index into `stored.features`) or an on-demand one. */
export type SplitOutput =
  | { readonly kind: 'stored'; readonly slot: number }
  | {
      readonly kind: 'on_demand';
      readonly ref: string;
      readonly compiled: CompiledOnDemandView;
      readonly featureIndex: number;
      /** Indexes into `stored.features` of the view's inputs, in scope order. */
      readonly inputSlots: readonly number[];
    };

export interface SplitFeatures {
  readonly stored: ResolvedFeatures;
  /** In request order. */
  readonly outputs: readonly SplitOutput[];
  /** Every request field the requested on-demand features read (one type per name). */
  readonly requestFields: readonly RequestFieldDef[];
}

/** Undefined when nothing requested is on-demand. */
export function splitOnDemand(state: RegistryState, resolved: ResolvedFeatures): SplitFeatures | undefined {
  if (!resolved.views.some((v) => v.view.kind === 'on_demand')) return undefined;
  const views: {
    view: RegisteredView;
    field: string;
    featureIndexes: number[];
    refs: string[];
    aggregationIndexes: number[];
  }[] = [];
  const features: ResolvedFeature[] = [];
  const slotOf = new Map<string, number>();
  const addStored = (source: ResolvedFeatures, feature: ResolvedFeature): number => {
    const known = slotOf.get(feature.ref);
    if (known !== undefined) return known;
    const rv = source.views[feature.viewSlot]!;
    let viewSlot = views.findIndex((v) => v.view === rv.view);
    if (viewSlot < 0) {
      viewSlot = views.length;
      views.push({ view: rv.view, field: rv.field, featureIndexes: [], refs: [], aggregationIndexes: [] });
    }
    if (feature.aggregationIndex !== undefined) {
      views[viewSlot]!.aggregationIndexes.push(feature.aggregationIndex);
    } else {
      views[viewSlot]!.featureIndexes.push(feature.featureIndex);
      views[viewSlot]!.refs.push(feature.ref);
    }
    slotOf.set(feature.ref, features.length);
    features.push({ ...feature, viewSlot });
    return features.length - 1;
  };
  // Requested stored features first: a requested input keeps the name it was requested by.
  for (const f of resolved.features) {
    if (resolved.views[f.viewSlot]!.view.kind !== 'on_demand') addStored(resolved, f);
  }
  const requestFields = new Map<string, RequestFieldDef>();
  const outputs = resolved.features.map((f): SplitOutput => {
    const view = resolved.views[f.viewSlot]!.view;
    if (view.kind !== 'on_demand') return { kind: 'stored', slot: slotOf.get(f.ref)! };
    const compiled = compiledOnDemandView(state, view);
    const inputs = resolveFeatureRefs(state, { refs: compiled.inputRefs });
    const inputSlots = inputs.features.map((input) => addStored(inputs, input));
    for (const field of compiled.scope.requestFields) {
      const seen = requestFields.get(field.name);
      if (seen !== undefined && seen.type !== field.type) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `request field ${field.name} is ${seen.type} in one requested on-demand view and ${field.type} in ${view.name}@${view.version}`,
        );
      }
      requestFields.set(field.name, field);
    }
    return { kind: 'on_demand', ref: f.ref, compiled, featureIndex: f.featureIndex, inputSlots };
  });
  return {
    stored: { sequence: resolved.sequence, views, features },
    outputs,
    requestFields: [...requestFields.values()],
  };
}
