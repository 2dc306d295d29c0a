import { TesseraError, formatProblems } from '@tessera/core';
import type { Change, OfflineStore } from '@tessera/core';
import { fromProtoDefinitions, toProtoEntity, toProtoService, toProtoView } from '@tessera/client';
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
import type { Registry } from '@tessera/registry';
import { answer } from './grpc-status.js';
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

/** The Registry service over one Registry (definitions, versions, history). */
export function createRegistryService(registry: Registry, offline: OfflineStore | undefined): RegistryServer {
  return {
    apply: answer<ApplyRequest, ApplyResponse>(async (request) => {
      if (!request.definitions) throw new TesseraError('INVALID_ARGUMENT', 'Apply: definitions are missing');
      const { definitions, problems } = fromProtoDefinitions(request.definitions);
      if (problems.length > 0) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `Apply rejected: ${problems.length} problem(s):\n${formatProblems(problems)}`,
          { details: problems },
        );
      }
      const result = await registry.apply(definitions, {
        dryRun: request.dryRun,
        author: request.author,
        prune: request.prune,
      });
      // Every view version gets its offline table (or new columns) as part of the apply.
      if (!result.dryRun) await offline?.ensureTables(allViewVersions(registry.state()));
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
