import { TesseraError, quoteInput } from '@tessera/core';
import type { ApiKeyStore, DeadLetter, WriteBehind } from '@tessera/core';
import { fromProtoScope, toProtoApiKey } from '@tessera/wire';
import { createKey, revokeKey, rotateKey } from '@tessera/registry';
import type {
  ApiKey,
  CreateApiKeyRequest,
  CreateApiKeyResponse,
  ListApiKeysRequest,
  ListApiKeysResponse,
  RevokeApiKeyRequest,
  RotateApiKeyRequest,
  DeadLetter as ProtoDeadLetter,
  DeadLetterActionResponse,
  DeadLetterRequest,
  GetWriteBehindStatsRequest,
  ListDeadLettersRequest,
  ListDeadLettersResponse,
  OperationsServer,
  WriteBehindStats,
} from '@tessera/proto';
import { answer } from './grpc-status.js';

const DEFAULT_LIST_LIMIT = 100;

function toProto(letter: DeadLetter): ProtoDeadLetter {
  return {
    id: letter.id,
    featureView: letter.view,
    version: letter.version,
    rowCount: BigInt(letter.rowCount),
    attempts: letter.attempts,
    error: letter.error,
    enqueuedAtMillis: BigInt(Math.round(letter.enqueuedAtMillis)),
    failedAtMillis: BigInt(Math.round(letter.failedAtMillis)),
  };
}

function notFound(id: string): TesseraError {
  return new TesseraError('NOT_FOUND', `no dead letter with id ${quoteInput(id, 80)} (tessera dlq ls lists them)`);
}

function requireId(request: DeadLetterRequest): string {
  if (request.id === '') throw new TesseraError('INVALID_ARGUMENT', 'a dead letter id is required');
  return request.id;
}

/** The Operations service: write-behind figures and dead letters of this deployment. */
export function createOperationsService(writeBehind: WriteBehind, apiKeys: ApiKeyStore): OperationsServer {
  return {
    createApiKey: answer<CreateApiKeyRequest, CreateApiKeyResponse>(async (request) => {
      const { token, record } = await createKey(apiKeys, request.name, request.scopes.map(fromProtoScope));
      return { key: toProtoApiKey(record), token };
    }),
    listApiKeys: answer<ListApiKeysRequest, ListApiKeysResponse>(async (request) => ({
      keys: (await apiKeys.list())
        .filter((k) => request.includeRevoked || k.revokedAtMillis === undefined)
        .sort((a, b) => a.name.localeCompare(b.name) || a.createdAtMillis - b.createdAtMillis)
        .map(toProtoApiKey),
    })),
    rotateApiKey: answer<RotateApiKeyRequest, CreateApiKeyResponse>(async (request) => {
      const { token, record } = await rotateKey(apiKeys, request.name);
      return { key: toProtoApiKey(record), token };
    }),
    revokeApiKey: answer<RevokeApiKeyRequest, ApiKey>(async (request) =>
      toProtoApiKey(await revokeKey(apiKeys, request.name)),
    ),
    getWriteBehindStats: answer<GetWriteBehindStatsRequest, WriteBehindStats>(async () => {
      const stats = await writeBehind.stats();
      return {
        pendingJobs: BigInt(stats.pendingJobs),
        ...(stats.pendingRows === undefined ? {} : { pendingRows: BigInt(stats.pendingRows) }),
        oldestPendingMillis: BigInt(Math.round(stats.oldestPendingMillis)),
        deadLetters: BigInt(stats.deadLetters),
        inserted: BigInt(stats.inserted),
        insertMillis:
          stats.insertMillis === undefined
            ? undefined
            : { ...stats.insertMillis, count: BigInt(stats.insertMillis.count) },
      };
    }),
    listDeadLetters: answer<ListDeadLettersRequest, ListDeadLettersResponse>(async (request) => ({
      deadLetters: (await writeBehind.deadLetters.list(request.limit || DEFAULT_LIST_LIMIT)).map(toProto),
    })),
    getDeadLetter: answer<DeadLetterRequest, ProtoDeadLetter>(async (request) => {
      const id = requireId(request);
      const letter = await writeBehind.deadLetters.get(id);
      if (letter === undefined) throw notFound(id);
      return toProto(letter);
    }),
    replayDeadLetter: answer<DeadLetterRequest, DeadLetterActionResponse>(async (request) => {
      const id = requireId(request);
      if (!(await writeBehind.deadLetters.replay(id))) throw notFound(id);
      return {};
    }),
    dropDeadLetter: answer<DeadLetterRequest, DeadLetterActionResponse>(async (request) => {
      const id = requireId(request);
      if (!(await writeBehind.deadLetters.drop(id))) throw notFound(id);
      return {};
    }),
  };
}
