/**
 * View versions and entity sources on the offline hop. The offline server builds table and column
 * names from the views its callers send, so it trusts none of them: each is read back and checked
 * by core's definition rules (identifiers, types, reserved names) before it reaches the store.
 */
import {
  TesseraError,
  formatProblems,
  validateDefinitions,
  type EntitySourceDef,
  type Problem,
  type RegisteredView,
} from '@tessera/core';
import type { EntitySource, FeatureView } from '@tessera/proto';
import {
  fromProtoDefinitions,
  fromProtoEntitySource,
  fromProtoRegisteredAggregation,
  fromProtoValueType,
  toProtoView,
} from '@tessera/wire';

/** Name of the one entity the check gives a view: its join keys, whatever entities they come from. */
const CHECK_ENTITY = 'view_keys';

/** A registered view version in wire form. */
export function toWireView(view: RegisteredView): FeatureView {
  return toProtoView(view);
}

/**
 * A view version read from the wire and checked as a definition; INVALID_ARGUMENT naming the view
 * and its first problem otherwise. `what` names the field (`Insert.view`).
 */
export function fromWireView(wire: FeatureView | undefined, what: string): RegisteredView {
  if (wire === undefined) throw new TesseraError('INVALID_ARGUMENT', `${what}: no view given`);
  const { definitions, problems } = fromProtoDefinitions({
    project: 'offline',
    entities: [
      {
        name: CHECK_ENTITY,
        joinKeys: wire.joinKeys,
        description: '',
        tags: {},
      },
    ],
    featureViews: [{ ...wire, entities: [CHECK_ENTITY] }],
    featureServices: [],
    entitySources: [],
  });
  const def = definitions.featureViews[0];
  const all: Problem[] = [...problems, ...(def === undefined ? [] : validateDefinitions(definitions))];
  if (!Number.isInteger(wire.version) || wire.version < 1) {
    all.push({ path: 'version', message: `version must be 1 or more, got ${wire.version}` });
  }
  if (wire.joinKeys.length === 0) all.push({ path: 'join_keys', message: 'a registered view has join keys' });
  if (def === undefined || all.length > 0) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${what}: view ${JSON.stringify(wire.name.slice(0, 80))} is not a valid registered view: ${firstProblems(all)}`,
      { details: all },
    );
  }
  // The declared aggregations are replaced by the registered ones (with type, spec version, state).
  const { aggregations: _declared, ...plain } = def;
  return {
    ...plain,
    ...(wire.aggregations.length === 0 ? {} : { aggregations: wire.aggregations.map(fromProtoRegisteredAggregation) }),
    entities: [...wire.entities],
    id: wire.id,
    version: wire.version,
    joinKeys: wire.joinKeys.map((k) => ({
      name: k.name,
      type: fromProtoValueType(k.type) === 'int64' ? 'int64' : 'string',
    })),
    createdAtMillis: wire.createdAt?.getTime() ?? 0,
    updatedAtMillis: wire.updatedAt?.getTime() ?? 0,
  };
}

/** An entity source read from the wire and checked as a definition (the store's SQL guard runs after). */
export function fromWireEntitySource(wire: EntitySource | undefined, what: string): EntitySourceDef {
  if (wire === undefined) throw new TesseraError('INVALID_ARGUMENT', `${what}: no entity source given`);
  const source = fromProtoEntitySource(wire);
  const problems = validateDefinitions({
    project: 'offline',
    entities: [],
    featureViews: [],
    featureServices: [],
    entitySources: [source],
  });
  if (problems.length > 0) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${what}: entity source ${JSON.stringify(source.name.slice(0, 80))} is not valid: ${firstProblems(problems)}`,
      { details: problems },
    );
  }
  return source;
}

/** The first problem, and how many more there are (the list travels in the error's details). */
function firstProblems(problems: readonly Problem[]): string {
  const more = problems.length - 1;
  return `${formatProblems(problems.slice(0, 1))}${more > 0 ? ` (and ${more} more)` : ''}`;
}
