/**
 * Semantic validation of a whole set of definitions: the rules every Definitions must satisfy,
 * whether it came from YAML files or from Registry.Apply over gRPC. It reports every problem at
 * once, with paths in the YAML spelling (`feature_views[1].features[0].type`), so one fix round
 * is enough. Constraints are flat in paths (`features[0].min`), as they are in YAML.
 */
import type { Problem } from '../errors.js';
import type { Definitions, EntityDef, FeatureServiceDef, FeatureViewDef } from '../model.js';
import { JOIN_KEY_TYPES } from '../model.js';
import { columnNameProblem, identifierProblem } from './names.js';
import { parseFeatureRef } from './ref-syntax.js';
import { isJoinKeyType } from './value-type-rules.js';
import { validateEntitySource } from './validate-entity-source.js';
import { validateEventView } from './validate-aggregations.js';
import { validateOnDemandView } from './validate-on-demand.js';
import { sqlViewCycles, validateSqlView } from './validate-sql-view.js';
import { validateFeature, validateStrings, type AddProblem } from './validate-feature.js';

/** The top-level lists of a repository, in YAML spelling. */
export type DefinitionSection = 'entities' | 'feature_views' | 'feature_services' | 'entity_sources';

/**
 * Describes where an object was defined, for messages such as "first defined at …". The YAML
 * loader passes one that names the file and line.
 */
export type LocateObject = (section: DefinitionSection, index: number) => string;

const defaultLocate: LocateObject = (section, index) => `${section}[${index}]`;

/** Checks every semantic rule on `defs` and returns all problems (empty when valid). */
export function validateDefinitions(defs: Definitions): Problem[] {
  return validateDefinitionsAt(defs, defaultLocate);
}

/** validateDefinitions with a custom description of object locations (used by parseRepository). */
export function validateDefinitionsAt(defs: Definitions, locate: LocateObject): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string): void => {
    problems.push({ path, message });
  };

  const projectProblem =
    typeof defs.project === 'string' ? identifierProblem(defs.project) : 'project must be a string';
  if (projectProblem !== undefined) add('project', `project ${projectProblem}`);

  const entities = new Map<string, EntityDef>();
  defs.entities.forEach((entity, i) => {
    validateEntity(entity, `entities[${i}]`, add);
    const first = firstIndex(defs.entities, entity.name);
    if (first !== i) {
      add(
        `entities[${i}].name`,
        `duplicate entity name "${entity.name}" (first defined at ${locate('entities', first)})`,
      );
    } else {
      entities.set(entity.name, entity);
    }
  });

  const views = new Map<string, FeatureViewDef>();
  defs.featureViews.forEach((view, i) => {
    if (view.kind !== 'on_demand') validateView(view, `feature_views[${i}]`, entities, add);
    const first = firstIndex(defs.featureViews, view.name);
    if (first !== i) {
      add(
        `feature_views[${i}].name`,
        `duplicate feature view name "${view.name}" (first defined at ${locate('feature_views', first)})`,
      );
    } else {
      views.set(view.name, view);
    }
  });

  // After every view is known: inputs may name views defined later.
  defs.featureViews.forEach((view, i) => {
    if (view.kind === 'on_demand') validateOnDemandView(view, `feature_views[${i}]`, views, entities, add);
    if (view.kind === 'sql' || view.sql !== undefined) validateSqlView(view, `feature_views[${i}]`, views, add);
  });
  for (const { view, cycle } of sqlViewCycles(defs.featureViews)) {
    const i = defs.featureViews.findIndex((v) => v.name === view);
    add(
      `feature_views[${i}].sql`,
      `SQL views read each other in a cycle: ${cycle}; an SQL view can only read views computed before it`,
    );
  }

  defs.featureServices.forEach((service, i) => {
    validateService(service, `feature_services[${i}]`, views, add);
    const first = firstIndex(defs.featureServices, service.name);
    if (first !== i) {
      add(
        `feature_services[${i}].name`,
        `duplicate feature service name "${service.name}" (first defined at ${locate('feature_services', first)})`,
      );
    }
  });

  const sources = defs.entitySources ?? [];
  sources.forEach((source, i) => {
    validateEntitySource(source, `entity_sources[${i}]`, add);
    const first = firstIndex(sources, source.name);
    if (first !== i) {
      add(
        `entity_sources[${i}].name`,
        `duplicate entity source name "${source.name}" (first defined at ${locate('entity_sources', first)})`,
      );
    }
  });
  return problems;
}

function firstIndex(objects: readonly { readonly name: string }[], name: string): number {
  return objects.findIndex((o) => o.name === name);
}

function validateEntity(entity: EntityDef, path: string, add: AddProblem): void {
  const nameProblem = identifierProblem(entity.name);
  if (nameProblem !== undefined) add(`${path}.name`, `entity ${nameProblem}`);
  const what = `entity ${entity.name}`;
  if (entity.joinKeys.length === 0) {
    add(
      `${path}.join_keys`,
      `${what} has no join keys; add at least one, e.g. join_keys: [{ name: ${entity.name}_id, type: int64 }]`,
    );
  }
  entity.joinKeys.forEach((key, j) => {
    const keyPath = `${path}.join_keys[${j}]`;
    const keyProblem = columnNameProblem(key.name);
    if (keyProblem !== undefined) add(`${keyPath}.name`, `${what}: join key ${keyProblem}`);
    if (entity.joinKeys.findIndex((k) => k.name === key.name) !== j) {
      add(`${keyPath}.name`, `${what}: duplicate join key "${key.name}"`);
    }
    if (!isJoinKeyType(key.type)) {
      add(
        `${keyPath}.type`,
        `${what}, join key ${key.name}: type ${JSON.stringify(key.type)} is not a join key type; valid join key types: ${JOIN_KEY_TYPES.join(', ')}`,
      );
    }
  });
  validateStrings(entity.description, entity.tags, path, what, add);
}

function validateView(
  view: FeatureViewDef,
  path: string,
  entities: ReadonlyMap<string, EntityDef>,
  add: AddProblem,
): void {
  const nameProblem = identifierProblem(view.name);
  if (nameProblem !== undefined) add(`${path}.name`, `feature view ${nameProblem}`);
  const what = `feature view ${view.name}`;

  if (view.entities.length === 0)
    add(`${path}.entities`, `${what} has no entities; list at least one, e.g. entities: [customer]`);
  const keyOwner = new Map<string, string>();
  view.entities.forEach((name, j) => {
    if (view.entities.indexOf(name) !== j) {
      add(`${path}.entities[${j}]`, `${what}: entity "${name}" is listed twice`);
      return;
    }
    const entity = entities.get(name);
    if (entity === undefined) {
      const known = [...entities.keys()].join(', ') || '(none)';
      add(`${path}.entities[${j}]`, `${what}: entity "${name}" is not defined; defined entities: ${known}`);
      return;
    }
    for (const key of entity.joinKeys) {
      const owner = keyOwner.get(key.name);
      if (owner !== undefined) {
        add(
          `${path}.entities[${j}]`,
          `${what}: join key "${key.name}" of entity ${name} is also a join key of entity ${owner}; the join keys of a view's entities must have distinct names`,
        );
      }
      keyOwner.set(key.name, name);
    }
  });

  if (!Number.isSafeInteger(view.ttlSeconds) || view.ttlSeconds < 0) {
    add(
      `${path}.ttl_seconds`,
      `${what}: ttl_seconds ${String(view.ttlSeconds)} must be a whole number of seconds >= 0 (0 = never expires)`,
    );
  }
  if (typeof view.owner !== 'string') add(`${path}.owner`, `${what}: owner must be a string`);
  validateStrings(view.description, view.tags, path, what, add);
  if (view.source !== undefined) {
    const source = view.source;
    if (typeof source.kind !== 'string' || source.kind === '') {
      add(`${path}.source.kind`, `${what}: source kind must be a non-empty string (e.g. push, clickhouse, file)`);
    }
    if (typeof source.location !== 'string')
      add(`${path}.source.location`, `${what}: source location must be a string`);
    if (typeof source.timestampField !== 'string' || source.timestampField === '') {
      add(`${path}.source.timestamp_field`, `${what}: source timestamp_field must be a non-empty string`);
    }
  }

  if (view.features.length === 0) add(`${path}.features`, `${what} has no features; define at least one`);
  view.features.forEach((feature, k) => {
    const featurePath = `${path}.features[${k}]`;
    if (view.features.findIndex((f) => f.name === feature.name) !== k) {
      add(`${featurePath}.name`, `${what}: duplicate feature name "${feature.name}"`);
    }
    const owner = keyOwner.get(feature.name);
    if (owner !== undefined) {
      add(
        `${featurePath}.name`,
        `${what}: feature "${feature.name}" has the name of a join key of entity ${owner}; rename the feature`,
      );
    }
    validateFeature(feature, featurePath, `${what}, feature ${feature.name}`, add);
  });
  validateEventView(view, path, keyOwner, add);
}

function validateService(
  service: FeatureServiceDef,
  path: string,
  views: ReadonlyMap<string, FeatureViewDef>,
  add: AddProblem,
): void {
  const nameProblem = identifierProblem(service.name);
  if (nameProblem !== undefined) add(`${path}.name`, `feature service ${nameProblem}`);
  const what = `feature service ${service.name}`;
  validateStrings(service.description, service.tags, path, what, add);
  if (typeof service.owner !== 'string') add(`${path}.owner`, `${what}: owner must be a string`);
  if (service.features.length === 0)
    add(`${path}.features`, `${what} has no features; list refs such as customer_stats:*`);
  const included = new Map<string, string>();
  service.features.forEach((text, j) => {
    const refPath = `${path}.features[${j}]`;
    let ref;
    try {
      ref = parseFeatureRef(text);
    } catch (error) {
      add(refPath, `${what}: ${(error as Error).message}`);
      return;
    }
    const view = views.get(ref.view);
    if (view === undefined) {
      const known = [...views.keys()].join(', ') || '(none)';
      add(refPath, `${what}: ref "${text}" names an unknown feature view "${ref.view}"; defined views: ${known}`);
      return;
    }
    // A pinned version is checked against the registry when applying (planApply): its
    // features may differ from the definition's (e.g. a feature removed in a later version).
    if (ref.version !== 0) return;
    const names = ref.feature === '*' ? view.features.map((f) => f.name) : [ref.feature];
    const aggregations = (view.aggregations ?? []).map((a) => a.name);
    if (
      ref.feature !== '*' &&
      !view.features.some((f) => f.name === ref.feature) &&
      !aggregations.includes(ref.feature)
    ) {
      const known = [...view.features.map((f) => f.name), ...aggregations].join(', ');
      add(
        refPath,
        `${what}: ref "${text}": feature view ${view.name} has no feature ${ref.feature}; its features: ${known}`,
      );
      return;
    }
    for (const name of names) {
      const key = `${ref.view}@${ref.version}:${name}`;
      const earlier = included.get(key);
      if (earlier !== undefined) {
        add(refPath, `${what}: ref "${text}" repeats feature ${ref.view}:${name}, already included by "${earlier}"`);
        return;
      }
      included.set(key, text);
    }
  });
}
