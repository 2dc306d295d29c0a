/**
 * Diffs of feature services and entity sources between two applies, and the check that every ref of
 * every feature service resolves in the state an apply would produce.
 */
import type { Problem } from '../errors.js';
import type { Definitions, EntitySourceDef, FeatureServiceDef } from '../model.js';
import { parseFeatureRef } from '../definitions/ref-syntax.js';
import { quoteInput } from '../quote.js';
import type { RegistryState } from './state.js';
import { describeTags } from './view-diff.js';

/** `name type, …` of an entity source's parameters. */
export function describeParams(def: EntitySourceDef): string {
  return def.params.map((p) => `${p.name} ${p.type}`).join(', ');
}

/** One line per difference between two versions of an entity source. */
export function diffSource(old: EntitySourceDef, def: EntitySourceDef): string[] {
  const details: string[] = [];
  if (old.sql !== def.sql) details.push('sql changed');
  if (describeParams(old) !== describeParams(def)) {
    details.push(`params: ${describeParams(old) || '(none)'} -> ${describeParams(def) || '(none)'}`);
  }
  if (old.params.map((p) => p.description).join('\u0000') !== def.params.map((p) => p.description).join('\u0000')) {
    details.push('parameter descriptions changed');
  }
  if (old.description !== def.description) details.push('description changed');
  if (old.owner !== def.owner) details.push(`owner: ${JSON.stringify(old.owner)} -> ${JSON.stringify(def.owner)}`);
  return details;
}

/** One line per difference between two versions of a feature service. */
export function diffService(old: FeatureServiceDef, def: FeatureServiceDef): string[] {
  const details: string[] = [];
  const before = new Set(old.features);
  const after = new Set(def.features);
  const added = def.features.filter((f) => !before.has(f));
  const removed = old.features.filter((f) => !after.has(f));
  if (added.length > 0) details.push(`features added: ${added.join(', ')}`);
  if (removed.length > 0) details.push(`features removed: ${removed.join(', ')}`);
  if (added.length === 0 && removed.length === 0 && old.features.join(',') !== def.features.join(',')) {
    details.push('feature order changed');
  }
  if (old.description !== def.description) details.push('description changed');
  if (old.owner !== def.owner) details.push(`owner: ${JSON.stringify(old.owner)} -> ${JSON.stringify(def.owner)}`);
  if (describeTags(old.tags) !== describeTags(def.tags)) {
    details.push(`tags: ${describeTags(old.tags)} -> ${describeTags(def.tags)}`);
  }
  return details;
}

/** Every ref of every service of the next state must resolve (pinned versions included). */
export function checkServiceRefs(next: RegistryState, defs: Definitions): Problem[] {
  const problems: Problem[] = [];
  const index = new Map(defs.featureServices.map((s, i) => [s.name, i]));
  for (const service of next.featureServices.values()) {
    const i = index.get(service.name);
    service.features.forEach((text, j) => {
      const path =
        i === undefined
          ? `feature service ${service.name} (registered).features[${j}]`
          : `feature_services[${i}].features[${j}]`;
      let ref;
      try {
        ref = parseFeatureRef(text);
      } catch (error) {
        problems.push({ path, message: (error as Error).message });
        return;
      }
      const lineage = next.featureViews.get(ref.view);
      if (lineage === undefined || lineage.deletedAtMillis !== undefined) {
        problems.push({
          path,
          message: `feature service ${service.name}: ref ${quoteInput(text)} names feature view ${ref.view}, which would not exist`,
        });
        return;
      }
      const version = ref.version === 0 ? lineage.versions.length : ref.version;
      const view = lineage.versions[version - 1];
      if (view === undefined) {
        problems.push({
          path,
          message: `feature service ${service.name}: ref ${quoteInput(text)}: feature view ${ref.view} has versions 1..${lineage.versions.length}`,
        });
      } else if (
        ref.feature !== '*' &&
        !view.features.some((f) => f.name === ref.feature) &&
        !(view.aggregations ?? []).some((a) => a.name === ref.feature)
      ) {
        problems.push({
          path,
          message: `feature service ${service.name}: ref ${quoteInput(text)}: feature view ${ref.view}@${version} has no feature ${ref.feature}`,
        });
      }
    });
  }
  return problems;
}
