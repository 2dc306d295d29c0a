import { TesseraError, isTesseraError } from '@tessera/core';
import type { EntitySourceDef, RegisteredView, RegistryState, ResolvedFeatures } from '@tessera/core';
import type { Registry } from '@tessera/registry';
import { buildOnlinePlan } from './on-demand-read.js';
import type { OnlinePlan } from './on-demand-read.js';

/** What the serving path needs from the registry: cheap, synchronous, from the cached state. */
export interface RegistryAccess {
  /** The registry state the serving path resolves against (on-demand programs are compiled per state). */
  state(): RegistryState;
  /** Changes whenever the registry does; read plans are cached per sequence. */
  sequence(): number;
  /** Resolves refs or a feature service (NOT_FOUND names the unknown ref). */
  resolve(refs: readonly string[], featureService: string): ResolvedFeatures;
  /** Resolves refs or a feature service into a read plan (NOT_FOUND names the unknown ref). */
  readPlan(refs: readonly string[], featureService: string): OnlinePlan;
  /** A view version by `name` (latest) or `name@version`. */
  view(ref: string): RegisteredView;
  /** A registered entity source by name (NOT_FOUND names it). */
  entitySource(name: string): EntitySourceDef;
  /** Re-reads the shared registry after a miss (rate-limited, shared by concurrent misses). */
  refreshOnMiss(): Promise<boolean>;
}

/**
 * `lookup()`, and when it fails NOT_FOUND, one refresh of the registry and a second try: an apply
 * through another server is known here at its next poll, and a client that applies and then calls
 * any server (round robin) must not see the name missing until then. A hit stays synchronous.
 */
export function withRefreshOnMiss<T>(registry: RegistryAccess, lookup: () => T): T | Promise<T> {
  try {
    return lookup();
  } catch (error) {
    if (!isTesseraError(error) || error.code !== 'NOT_FOUND') throw error;
    return registry.refreshOnMiss().then(lookup);
  }
}

export function createRegistryAccess(registry: Registry): RegistryAccess {
  return {
    state: () => registry.state(),
    sequence: () => registry.state().sequence,
    resolve(refs, featureService) {
      return registry.resolveFeatures(featureService !== '' ? { featureService } : { refs });
    },
    readPlan(refs, featureService) {
      const state = registry.state();
      return buildOnlinePlan(state, registry.resolveFeatures(featureService !== '' ? { featureService } : { refs }));
    },
    view(ref) {
      if (ref === '')
        throw new TesseraError(
          'INVALID_ARGUMENT',
          'feature_view is empty: name the view to write, e.g. customer_stats',
        );
      const found = registry.get('feature_view', ref);
      if (found.objectType !== 'feature_view')
        throw new TesseraError('INTERNAL', `registry answered a ${found.objectType} for view ${ref}`);
      return found.featureView;
    },
    entitySource(name) {
      if (name === '')
        throw new TesseraError('INVALID_ARGUMENT', 'entity_source.name is empty: name a registered source');
      const found = registry.get('entity_source', name);
      if (found.objectType !== 'entity_source')
        throw new TesseraError('INTERNAL', `registry answered a ${found.objectType} for entity source ${name}`);
      return found.entitySource;
    },
    refreshOnMiss: () => registry.refreshOnMiss(),
  };
}
