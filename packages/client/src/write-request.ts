import { Durability, WriteTarget } from '@tessera/proto';
import type { ValueType } from '@tessera/core';
import type { GetResponse, WriteRequest } from '@tessera/proto';
import { fromProtoValueType } from '@tessera/wire';
import { TesseraClientError } from './service-error.js';
import type { DurabilityName, WriteOptions, WriteTargetName } from './options.js';
import type { WriteBatch } from './write-batches.js';

const TARGETS: Record<WriteTargetName, WriteTarget> = {
  online_and_offline: WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE,
  online: WriteTarget.WRITE_TARGET_ONLINE,
  offline: WriteTarget.WRITE_TARGET_OFFLINE,
};
const DURABILITIES: Record<DurabilityName, Durability> = {
  write_behind: Durability.DURABILITY_WRITE_BEHIND,
  sync: Durability.DURABILITY_SYNC,
  replicated: Durability.DURABILITY_REPLICATED,
};

/**
 * The Write message of batch `index` of a rows/columns write. With several batches, batch i carries
 * `<key>#<i>` (batch 0 the key itself), so each batch is deduplicated on its own when retried.
 */
export function batchWriteRequest(view: string, batch: WriteBatch, index: number, options: WriteOptions): WriteRequest {
  const key = options.idempotencyKey ?? '';
  return {
    featureView: view,
    columns: batch.columns,
    eventTimestamps: batch.eventTimestamps,
    target: options.target === undefined ? WriteTarget.WRITE_TARGET_UNSPECIFIED : TARGETS[options.target],
    durability: options.durability === undefined ? Durability.DURABILITY_UNSPECIFIED : DURABILITIES[options.durability],
    idempotencyKey: key === '' || index === 0 ? key : `${key}#${index}`,
  };
}

/** A partial Write message with the proto defaults filled in. */
export function withWriteDefaults(
  request: Partial<WriteRequest> & Pick<WriteRequest, 'featureView' | 'columns'>,
): WriteRequest {
  return {
    featureView: request.featureView,
    columns: request.columns,
    eventTimestamps: request.eventTimestamps,
    target: request.target ?? WriteTarget.WRITE_TARGET_UNSPECIFIED,
    durability: request.durability ?? Durability.DURABILITY_UNSPECIFIED,
    idempotencyKey: request.idempotencyKey ?? '',
  };
}

/** The type of every join key and feature of a view, from its registry answer (`Registry.Get`). */
export function viewColumnTypes(
  view: string,
  response: GetResponse,
): { label: string; types: Map<string, ValueType>; joinKeys: string[] } {
  if (response.object?.$case !== 'featureView') {
    throw new TesseraClientError('NOT_FOUND', `Unknown feature view "${view}"`, { grpcCode: 5 });
  }
  const definition = response.object.value;
  const types = new Map<string, ValueType>();
  for (const key of definition.joinKeys) types.set(key.name, fromProtoValueType(key.type) ?? 'string');
  for (const feature of definition.features) types.set(feature.name, fromProtoValueType(feature.type) ?? 'string');
  return { label: `${definition.name}@${definition.version}`, types, joinKeys: definition.joinKeys.map((k) => k.name) };
}
