/**
 * Compares a registered view with its new definition and decides whether the stored values stay
 * readable (compatible: the version stays) or not (breaking: a new version). Also the
 * human-readable lines of each difference.
 */
import type {
  Constraints,
  EntityDef,
  FeatureDef,
  FeatureViewDef,
  JoinKeySpec,
  RegisteredView,
  SourceDef,
} from '../model.js';
import { formatTtl } from '../definitions/ttl.js';

export interface ViewDiff {
  /** Lines ending in "(breaking)": the stored values of the latest version no longer fit. */
  readonly breaking: readonly string[];
  readonly compatible: readonly string[];
  /** The features of the in-place update: storage order kept, new features appended. */
  readonly features: readonly FeatureDef[];
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
  return { breaking, compatible, features };
}

/** Lines describing a new view (or a new version's full shape). */
export function describeNewView(def: FeatureViewDef, joinKeys: readonly JoinKeySpec[]): string[] {
  return [
    `entities: ${def.entities.join(', ')} (join keys ${describeJoinKeys(joinKeys)})`,
    `features: ${def.features.map(describeFeature).join(', ')}`,
    `ttl: ${formatTtl(def.ttlSeconds)}`,
    ...(def.source === undefined ? [] : [`source: ${describeSource(def.source)}`]),
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
