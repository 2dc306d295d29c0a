/**
 * What the registry knows after a sequence of applies. Immutable: planApply returns a new state,
 * so a server can swap its cached state in one assignment while requests read the old one.
 */
import type { EntityDef, EntitySourceDef, FeatureServiceDef, RegisteredView } from '../model.js';

/** Every version of one feature view, oldest first (`versions[v - 1].version === v`). */
export interface ViewLineage {
  /** Numeric id shared by all versions; never reused for another name. */
  readonly id: number;
  readonly versions: readonly RegisteredView[];
  /**
   * Set when the view was pruned: it is gone from listings and refs, its versions stay for
   * History, and re-creating the name continues with the next version and the same id, so no
   * online field or offline table of an old version is ever reused with another schema.
   */
  readonly deletedAtMillis?: number;
}

export interface RegistryState {
  /** '' until the first apply names it. */
  readonly project: string;
  /** Number of the apply that produced this state; 0 for an empty registry. */
  readonly sequence: number;
  /** Id the next new feature view gets. */
  readonly nextViewId: number;
  readonly entities: ReadonlyMap<string, EntityDef>;
  readonly featureViews: ReadonlyMap<string, ViewLineage>;
  readonly featureServices: ReadonlyMap<string, FeatureServiceDef>;
  /** Entity sources declared by an admin, by name. */
  readonly entitySources: ReadonlyMap<string, EntitySourceDef>;
}

/** A registry with nothing applied yet. */
export function emptyRegistryState(project = ''): RegistryState {
  return {
    project,
    sequence: 0,
    nextViewId: 1,
    entities: new Map(),
    featureViews: new Map(),
    featureServices: new Map(),
    entitySources: new Map(),
  };
}

/** The latest version of a live (not deleted) view, or undefined. */
export function latestView(state: RegistryState, name: string): RegisteredView | undefined {
  const lineage = state.featureViews.get(name);
  if (lineage === undefined || lineage.deletedAtMillis !== undefined) return undefined;
  return lineage.versions[lineage.versions.length - 1];
}

/** One version of a live view (0 = latest), or undefined. */
export function findViewVersion(state: RegistryState, name: string, version: number): RegisteredView | undefined {
  if (version === 0) return latestView(state, name);
  const lineage = state.featureViews.get(name);
  if (lineage === undefined || lineage.deletedAtMillis !== undefined) return undefined;
  return lineage.versions[version - 1];
}

/** The latest version of every live view, in registration order. */
export function listLatestViews(state: RegistryState): RegisteredView[] {
  const views: RegisteredView[] = [];
  for (const name of state.featureViews.keys()) {
    const view = latestView(state, name);
    if (view !== undefined) views.push(view);
  }
  return views;
}
