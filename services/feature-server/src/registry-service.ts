import {
  TesseraError,
  findViewVersion,
  formatProblems,
  futureToleranceProblems,
  latestView,
  parseViewRef,
  validateDefinitions,
} from '@tessera/core';
import type { Change, Definitions, OfflineStore, RegisteredView, RegistryState } from '@tessera/core';
import { fromProtoDefinitions, toProtoEntity, toProtoEntitySource, toProtoService, toProtoView } from '@tessera/wire';
import { ChangeKind } from '@tessera/proto';
import type {
  ApplyRequest,
  ApplyResponse,
  Change as ProtoChange,
  GetRequest,
  GetResponse,
  HistoryRequest,
  HistoryResponse,
  ListRequest,
  ListResponse,
  RegistryServer,
} from '@tessera/proto';
import type { ApplyResult, Registry } from '@tessera/registry';
import { answer } from './grpc-status.js';
import { principalOf } from './auth.js';
import { allViewVersions } from '@tessera/offline';

const CHANGE_KINDS: Record<Change['kind'], ChangeKind> = {
  create: ChangeKind.CHANGE_KIND_CREATE,
  update: ChangeKind.CHANGE_KIND_UPDATE,
  new_version: ChangeKind.CHANGE_KIND_NEW_VERSION,
  delete: ChangeKind.CHANGE_KIND_DELETE,
  unchanged: ChangeKind.CHANGE_KIND_UNCHANGED,
};

function toProtoChange(change: Change): ProtoChange {
  return { ...change, details: [...change.details], kind: CHANGE_KINDS[change.kind] };
}

/**
 * Applies definitions and gives every view version its offline table (or new columns) as part of
 * it. With an offline store, every entity source's SQL is checked by the SQL guard first: one it
 * refuses fails the whole apply (INVALID_ARGUMENT naming the source and reason), nothing applied.
 * Every SQL view of the definitions is checked on the planned state (its lineage resolved) by the
 * offline store; without one that can, the apply fails with UNAVAILABLE naming the view.
 */
export async function applyDefinitions(
  registry: Registry,
  offline: OfflineStore | undefined,
  definitions: Definitions,
  options: {
    readonly dryRun: boolean;
    readonly author: string;
    readonly prune: boolean;
    /** The server's limit on event times ahead of its clock; event views may not tolerate more. */
    readonly maxEventTimeSkewMillis: number;
  },
): Promise<ApplyResult> {
  const tolerance = futureToleranceProblems(definitions, options.maxEventTimeSkewMillis);
  if (tolerance.length > 0) {
    throw new TesseraError('INVALID_ARGUMENT', `Definitions rejected:\n${formatProblems(tolerance)}`, {
      details: tolerance,
    });
  }
  // Definitions with problems are refused by the registry with every problem listed; only valid
  // sources are worth running through the engine.
  if (validateDefinitions(definitions).length === 0) {
    for (const source of definitions.entitySources ?? []) await offline?.checkEntitySource?.(source);
  }
  const result = await registry.apply(definitions, {
    ...options,
    check: (next) => checkSqlViews(next, definitions, offline),
  });
  if (!result.dryRun) await offline?.ensureTables(allViewVersions(registry.state()));
  return result;
}

/** Checks each SQL view of `definitions` as planned in `next` (design §5.1, apply-time validation). */
async function checkSqlViews(
  next: RegistryState,
  definitions: Definitions,
  offline: OfflineStore | undefined,
): Promise<void> {
  for (const def of definitions.featureViews) {
    if (def.kind !== 'sql') continue;
    const view = latestView(next, def.name);
    if (view?.sql === undefined) continue;
    if (offline?.checkSqlView === undefined) {
      throw new TesseraError(
        'UNAVAILABLE',
        `SQL view ${def.name}: Apply checks an SQL view's SELECT on the offline store, and this server has none; apply through a server with an offline store`,
      );
    }
    const reads = view.sql.reads.map((read): RegisteredView => {
      const ref = parseViewRef(read);
      const found = findViewVersion(next, ref.view, ref.version);
      if (found === undefined) throw new TesseraError('INTERNAL', `SQL view ${def.name}: lineage ${read} not found`);
      return found;
    });
    await offline.checkSqlView(view, reads);
  }
}

/** The Registry service over one Registry (definitions, versions, history). */
export function createRegistryService(
  registry: Registry,
  offline: OfflineStore | undefined,
  maxEventTimeSkewMillis: number,
): RegistryServer {
  return {
    apply: answer<ApplyRequest, ApplyResponse>(async (request, call) => {
      if (!request.definitions) throw new TesseraError('INVALID_ARGUMENT', 'Apply: definitions are missing');
      const { definitions, problems } = fromProtoDefinitions(request.definitions);
      if (problems.length > 0) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `Apply rejected: ${problems.length} problem(s):\n${formatProblems(problems)}`,
          { details: problems },
        );
      }
      const result = await applyDefinitions(registry, offline, definitions, {
        dryRun: request.dryRun,
        // With authentication, the author is the key that applied, whatever the request claims.
        author: principalOf(call)?.name ?? request.author,
        prune: request.prune,
        maxEventTimeSkewMillis,
      });
      return {
        changes: result.changes.map(toProtoChange),
        dryRun: result.dryRun,
        registryVersion: BigInt(result.sequence),
      };
    }),
    get: answer<GetRequest, GetResponse>((request) => {
      const found = registry.get(request.objectType as Parameters<Registry['get']>[0], request.name);
      switch (found.objectType) {
        case 'entity':
          return { object: { $case: 'entity', value: toProtoEntity(found.entity) } };
        case 'feature_view':
          return { object: { $case: 'featureView', value: toProtoView(found.featureView) } };
        case 'feature_service':
          return { object: { $case: 'featureService', value: toProtoService(found.featureService) } };
        case 'entity_source':
          return { object: { $case: 'entitySource', value: toProtoEntitySource(found.entitySource) } };
      }
    }),
    list: answer<ListRequest, ListResponse>(() => {
      const listing = registry.list();
      return {
        project: listing.project,
        entities: listing.entities.map(toProtoEntity),
        featureViews: listing.featureViews.map(toProtoView),
        featureServices: listing.featureServices.map(toProtoService),
        registryVersion: BigInt(listing.sequence),
        entitySources: listing.entitySources.map(toProtoEntitySource),
      };
    }),
    history: answer<HistoryRequest, HistoryResponse>(async (request) => {
      const versions = await registry.history(request.featureView);
      return {
        versions: versions.map((v) => ({
          featureView: toProtoView(v.view),
          author: v.author,
          appliedAt: new Date(v.appliedAtMillis),
          changes: [...v.changes],
        })),
      };
    }),
  };
}
