/**
 * RegistryState to and from JSON-safe data, for registry logs. Maps become arrays (insertion
 * order kept: it is registration order) and bigints (int64 allowed values) become
 * `{ "$int64": "…" }`, so nothing is lost through JSON.
 */
import { TesseraError } from '../errors.js';
import type { EntityDef, EntitySourceDef, FeatureServiceDef, RegisteredView } from '../model.js';
import type { RegistryState, ViewLineage } from './state.js';

/** Format of the stored state; bump on incompatible changes and keep reading the old ones. */
export const REGISTRY_STATE_FORMAT = 1;

/** JSON-safe data: what JSON.stringify keeps and JSON.parse returns. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Converts a state to JSON-safe data. */
export function registryStateToJson(state: RegistryState): JsonValue {
  return toJsonSafe({
    format: REGISTRY_STATE_FORMAT,
    project: state.project,
    sequence: state.sequence,
    nextViewId: state.nextViewId,
    entities: [...state.entities.values()],
    featureViews: [...state.featureViews.entries()].map(([name, lineage]) => ({ name, ...lineage })),
    featureServices: [...state.featureServices.values()],
    entitySources: [...state.entitySources.values()],
  });
}

/** Rebuilds a state from registryStateToJson output; throws INTERNAL on data it cannot read. */
export function registryStateFromJson(data: unknown): RegistryState {
  const raw = fromJsonSafe(data) as {
    format?: unknown;
    project: string;
    sequence: number;
    nextViewId: number;
    entities: EntityDef[];
    featureViews: (ViewLineage & { name: string })[];
    featureServices: FeatureServiceDef[];
    /** Absent in states stored before entity sources existed. */
    entitySources?: EntitySourceDef[];
  };
  if (typeof raw !== 'object' || raw === null || raw.format !== REGISTRY_STATE_FORMAT) {
    throw new TesseraError(
      'INTERNAL',
      `Stored registry state has an unknown format (${String(raw?.format)}); expected ${REGISTRY_STATE_FORMAT}`,
    );
  }
  return {
    project: raw.project,
    sequence: raw.sequence,
    nextViewId: raw.nextViewId,
    entities: new Map(raw.entities.map((e) => [e.name, e])),
    featureViews: new Map(
      raw.featureViews.map(({ name, ...lineage }) => [name, lineage as ViewLineage & { versions: RegisteredView[] }]),
    ),
    featureServices: new Map(raw.featureServices.map((s) => [s.name, s])),
    entitySources: new Map((raw.entitySources ?? []).map((s) => [s.name, s])),
  };
}

/** JSON text of a state. */
export function serializeRegistryState(state: RegistryState): string {
  return JSON.stringify(registryStateToJson(state));
}

/** A state from serializeRegistryState text. */
export function deserializeRegistryState(text: string): RegistryState {
  return registryStateFromJson(JSON.parse(text));
}

/** Deep copy with bigint → `{ $int64 }`; undefined properties are dropped (exactOptionalPropertyTypes). */
export function toJsonSafe(value: unknown): JsonValue {
  if (typeof value === 'bigint') return { $int64: value.toString() };
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (typeof value === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = toJsonSafe(v);
    return out;
  }
  throw new TesseraError('INTERNAL', `Cannot store a ${typeof value} in the registry`);
}

/** The inverse of toJsonSafe. */
export function fromJsonSafe(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonSafe);
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]?.[0] === '$int64' && typeof entries[0][1] === 'string') {
      return BigInt(entries[0][1]);
    }
    const out: Record<string, unknown> = {};
    for (const [key, v] of entries) out[key] = fromJsonSafe(v);
    return out;
  }
  return value;
}
