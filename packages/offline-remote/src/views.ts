/**
 * View versions and entity sources on the offline hop. The offline server builds table and column
 * names from the views its callers send, so it trusts none of them: each is read back and checked
 * by core's definition rules (identifiers, types, reserved names) before it reaches the store.
 */
import {
  TesseraError,
  formatProblems,
  parseSqlViewText,
  validateDefinitions,
  type Definitions,
  type EntitySourceDef,
  type FeatureViewDef,
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
  const read = fromProtoDefinitions(
    {
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
    },
    // An SQL view's lineage (resolved by the registry) names the tables its SELECT reads.
    true,
  );
  const problems = read.problems;
  const def = read.definitions.featureViews[0];
  const definitions = def?.sql === undefined ? read.definitions : withReadStubs(read.definitions, def, problems);
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

/** Longest `view@version` of an SQL view's lineage. */
const MAX_READ_CHARS = 80;
const READ = /^([a-z_][a-z0-9_]{0,62})@([1-9][0-9]{0,8})$/;

/**
 * `definitions` plus a stand-in of every view an SQL view reads (the offline hop carries its
 * lineage, not the read views' definitions), so the SQL view validates as in its apply; and the
 * lineage checked against its text: one well-formed `view@n` per view its placeholders name, with
 * the pinned version where one is pinned — the store resolves each placeholder to that table.
 */
function withReadStubs(definitions: Definitions, view: FeatureViewDef, problems: Problem[]): Definitions {
  const reads = view.sql?.reads ?? [];
  const path = 'sql_source.reads';
  const { placeholders } = parseSqlViewText(view.sql?.sql ?? '');
  const named = new Map(placeholders.map((p) => [p.view, p.version]));
  const stubs: FeatureViewDef[] = [];
  const seen = new Set<string>();
  for (const read of reads) {
    const match = read.length <= MAX_READ_CHARS ? READ.exec(read) : null;
    if (match === null) {
      problems.push({ path, message: `lineage ${JSON.stringify(read.slice(0, MAX_READ_CHARS))} is not view@version` });
      continue;
    }
    const [, name = '', version = '0'] = match;
    const pinned = named.get(name);
    if (pinned === undefined || seen.has(name)) {
      problems.push({ path, message: `lineage ${read} is not one of the views the SQL's placeholders name, once` });
    } else if (pinned !== 0 && pinned !== Number(version)) {
      problems.push({ path, message: `lineage ${read} differs from the SQL's placeholder ${name}@${pinned}` });
    }
    seen.add(name);
    stubs.push({
      name,
      entities: [CHECK_ENTITY],
      features: [
        {
          name: 'value',
          type: 'double',
          dimension: 0,
          constraints: { notNull: false, allowNaN: false },
          description: '',
          tags: {},
        },
      ],
      ttlSeconds: 0,
      owner: '',
      tags: {},
      description: '',
    });
  }
  for (const name of named.keys()) {
    if (!seen.has(name)) problems.push({ path, message: `no lineage for the placeholder view ${name}` });
  }
  return { ...definitions, featureViews: [...definitions.featureViews, ...stubs] };
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
