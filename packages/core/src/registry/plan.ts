/**
 * Plans an apply: from the current registry state and a validated set of definitions, the list of
 * changes and the next state. Pure (the caller decides whether to store the result, which is all a
 * dry run is).
 *
 * Versioning rules:
 * - a new view gets a fresh numeric id (shared by all its versions) and version 1;
 * - a compatible change (features appended; description, owner, tags, TTL, constraints or source
 *   changed) updates the latest version in place;
 * - a breaking change (a feature removed, a feature's type or dimension changed, the view's
 *   entities or their join keys changed; an event view's kind, allowed_lateness or
 *   future_tolerance changed) creates version n+1; older versions stay readable;
 * - adding, changing or removing a window aggregation is breaking until online tile rebuilds exist
 *   (a version's tile layout is frozen; view-diff.ts); its description and tags are compatible;
 * - an SQL view's placeholders resolve to the versions it reads (its lineage, plan-sql-views.ts); a
 *   change of its SQL, of what it reads or of its output columns is breaking (sql-view-diff.ts).
 *
 * Feature order of a registered version is its storage order (the packed online row and the
 * offline columns depend on it): an in-place update keeps existing features where they are and
 * appends new ones, whatever order the YAML lists them in. A new version starts fresh storage and
 * takes the definition's order.
 *
 * Without prune, registered objects missing from the definitions stay as they are. With prune
 * they are deleted: entities, feature services and entity sources are removed; a view is marked deleted (gone
 * from listings and refs, its versions kept for History; re-creating it continues its id and
 * version numbers).
 */
import { TesseraError } from '../errors.js';
import type {
  Definitions,
  EntityDef,
  EntitySourceDef,
  FeatureServiceDef,
  FeatureViewDef,
  JoinKeySpec,
  RegisteredView,
} from '../model.js';
import { quoteInput } from '../quote.js';
import { fresh, register } from './plan-register.js';
import { checkServiceRefs, describeParams, diffService, diffSource } from './plan-services.js';
import { checkSqlViewReads, planningOrder, withResolvedReads } from './plan-sql-views.js';
import type { RegistryState, ViewLineage } from './state.js';
import { describeNewView, diffEntity, diffView } from './view-diff.js';

export type RegistryObjectType = 'entity' | 'feature_view' | 'feature_service' | 'entity_source';
export type ChangeKind = 'create' | 'update' | 'new_version' | 'delete' | 'unchanged';

/** One object's change in an apply. Versions are 0 where they do not apply (entities, services, none yet). */
export interface Change {
  readonly objectType: RegistryObjectType;
  readonly name: string;
  readonly kind: ChangeKind;
  readonly fromVersion: number;
  readonly toVersion: number;
  /** One line per difference, e.g. `feature loyalty_score: type double -> int64 (breaking)`. */
  readonly details: readonly string[];
}

export interface PlanApplyOptions {
  /** Time recorded on created and updated versions. */
  readonly nowMillis: number;
  /** Delete registered objects missing from the definitions. */
  readonly prune?: boolean;
}

export interface ApplyPlan {
  readonly changes: Change[];
  /** The state after the apply; the same object as the input when nothing changed. */
  readonly next: RegistryState;
  /** False when every change is `unchanged` (nothing to store). */
  readonly changed: boolean;
}

/**
 * Plans applying `defs` (already checked by validateDefinitions) to `state`. Throws
 * FAILED_PRECONDITION when the definitions name another project, and INVALID_ARGUMENT when a
 * feature service would reference a version or feature that does not exist after the apply.
 */
export function planApply(state: RegistryState, defs: Definitions, options: PlanApplyOptions): ApplyPlan {
  if (state.project !== '' && state.project !== defs.project) {
    throw new TesseraError(
      'FAILED_PRECONDITION',
      `This registry holds project ${quoteInput(state.project)}; the definitions name project ${quoteInput(defs.project)}`,
    );
  }
  const now = options.nowMillis;
  const prune = options.prune ?? false;
  const changes: Change[] = [];

  // Entities.
  const entities = new Map<string, EntityDef>(prune ? [] : state.entities);
  const rekeyed = new Set<string>();
  for (const def of defs.entities) {
    const old = state.entities.get(def.name);
    entities.set(def.name, def);
    if (old === undefined) {
      changes.push(
        change('entity', def.name, 'create', 0, 0, [
          `join keys: ${def.joinKeys.map((k) => `${k.name} ${k.type}`).join(', ')}`,
        ]),
      );
      continue;
    }
    const diff = diffEntity(old, def);
    if (diff.joinKeysChanged) rekeyed.add(def.name);
    changes.push(change('entity', def.name, diff.details.length > 0 ? 'update' : 'unchanged', 0, 0, diff.details));
  }
  if (prune) {
    for (const name of state.entities.keys()) {
      if (!entities.has(name)) changes.push(change('entity', name, 'delete', 0, 0, ['deleted']));
    }
  }
  const joinKeysOf = (view: FeatureViewDef): JoinKeySpec[] =>
    view.entities.flatMap((name) => entities.get(name)?.joinKeys ?? []);

  // Feature views.
  const views = new Map<string, ViewLineage>(state.featureViews);
  let nextViewId = state.nextViewId;
  const defined = new Set<string>();
  for (const given of planningOrder(defs.featureViews)) {
    const def = withResolvedReads(given, views);
    defined.add(def.name);
    const joinKeys = joinKeysOf(def);
    const lineage = state.featureViews.get(def.name);
    if (lineage === undefined) {
      const view = register(def, nextViewId++, 1, joinKeys, def.features, fresh(def), now, now);
      views.set(def.name, { id: view.id, versions: [view] });
      changes.push(
        change('feature_view', def.name, 'create', 0, 1, [
          `version 1 (id ${view.id})`,
          ...describeNewView(def, joinKeys),
        ]),
      );
      continue;
    }
    const latest = lineage.versions[lineage.versions.length - 1] as RegisteredView;
    if (lineage.deletedAtMillis !== undefined) {
      const version = latest.version + 1;
      const view = register(def, lineage.id, version, joinKeys, def.features, fresh(def), now, now);
      views.set(def.name, { id: lineage.id, versions: [...lineage.versions, view] });
      const details = [`re-created after delete as version ${version} (versions 1..${latest.version} stay in history)`];
      changes.push(
        change('feature_view', def.name, 'create', 0, version, [...details, ...describeNewView(def, joinKeys)]),
      );
      continue;
    }
    const diff = diffView(latest, def, joinKeys);
    if (diff.breaking.length > 0) {
      const view = register(def, lineage.id, latest.version + 1, joinKeys, def.features, fresh(def), now, now);
      views.set(def.name, { id: lineage.id, versions: [...lineage.versions, view] });
      changes.push(
        change('feature_view', def.name, 'new_version', latest.version, view.version, [
          ...diff.breaking,
          ...diff.compatible,
        ]),
      );
    } else if (diff.compatible.length > 0) {
      const view = register(
        def,
        lineage.id,
        latest.version,
        joinKeys,
        diff.features,
        diff.aggregations,
        latest.createdAtMillis,
        now,
      );
      views.set(def.name, { id: lineage.id, versions: [...lineage.versions.slice(0, -1), view] });
      changes.push(change('feature_view', def.name, 'update', latest.version, latest.version, diff.compatible));
    } else {
      changes.push(change('feature_view', def.name, 'unchanged', latest.version, latest.version, []));
    }
  }
  for (const [name, lineage] of state.featureViews) {
    if (defined.has(name) || lineage.deletedAtMillis !== undefined) continue;
    const latest = lineage.versions[lineage.versions.length - 1] as RegisteredView;
    if (prune) {
      views.set(name, { ...lineage, deletedAtMillis: now });
      changes.push(
        change('feature_view', name, 'delete', latest.version, 0, [
          `deleted (versions 1..${latest.version} stay in history)`,
        ]),
      );
    } else if (latest.entities.some((e) => rekeyed.has(e))) {
      // Kept without prune, but an entity it uses changed its join keys: its stored rows no longer fit.
      const joinKeys = joinKeysOf(latest);
      const view = register(latest, lineage.id, latest.version + 1, joinKeys, latest.features, fresh(latest), now, now);
      views.set(name, { id: lineage.id, versions: [...lineage.versions, view] });
      const lines = diffView(latest, latest, joinKeys).breaking;
      changes.push(change('feature_view', name, 'new_version', latest.version, view.version, lines));
    }
  }

  checkSqlViewReads(views);

  // Feature services.
  const services = new Map<string, FeatureServiceDef>(prune ? [] : state.featureServices);
  for (const def of defs.featureServices) {
    const old = state.featureServices.get(def.name);
    services.set(def.name, def);
    if (old === undefined) {
      changes.push(change('feature_service', def.name, 'create', 0, 0, [`features: ${def.features.join(', ')}`]));
      continue;
    }
    const details = diffService(old, def);
    changes.push(change('feature_service', def.name, details.length > 0 ? 'update' : 'unchanged', 0, 0, details));
  }
  if (prune) {
    for (const name of state.featureServices.keys()) {
      if (!services.has(name)) changes.push(change('feature_service', name, 'delete', 0, 0, ['deleted']));
    }
  }

  // Entity sources.
  const sources = new Map<string, EntitySourceDef>(prune ? [] : state.entitySources);
  for (const def of defs.entitySources ?? []) {
    const old = state.entitySources.get(def.name);
    sources.set(def.name, def);
    if (old === undefined) {
      changes.push(change('entity_source', def.name, 'create', 0, 0, [`params: ${describeParams(def) || '(none)'}`]));
      continue;
    }
    const details = diffSource(old, def);
    changes.push(change('entity_source', def.name, details.length > 0 ? 'update' : 'unchanged', 0, 0, details));
  }
  if (prune) {
    for (const name of state.entitySources.keys()) {
      if (!sources.has(name)) changes.push(change('entity_source', name, 'delete', 0, 0, ['deleted']));
    }
  }

  const changed = changes.some((c) => c.kind !== 'unchanged') || state.project !== defs.project;
  if (!changed) return { changes, next: state, changed };
  const next: RegistryState = {
    project: defs.project,
    sequence: state.sequence + 1,
    nextViewId,
    entities,
    featureViews: views,
    featureServices: services,
    entitySources: sources,
  };
  const problems = checkServiceRefs(next, defs);
  if (problems.length > 0) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Feature services reference missing features:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`,
      {
        details: problems,
      },
    );
  }
  return { changes, next, changed };
}

function change(
  objectType: RegistryObjectType,
  name: string,
  kind: ChangeKind,
  fromVersion: number,
  toVersion: number,
  details: readonly string[],
): Change {
  return { objectType, name, kind, fromVersion, toVersion, details };
}
