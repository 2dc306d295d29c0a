export { TesseraClient } from './client.js';
export { onlineFeatureRows } from './online-features.js';
export type {
  OnlineEntities,
  OnlineFeatures,
  OnlineFeatureRow,
  OnlineRequest,
  FeatureStatusName,
} from './online-features.js';
export type {
  TesseraClientOptions,
  LoadBalancingPolicy,
  FeatureSelection,
  CallOptions,
  WriteOptions,
  WriteTargetName,
  DurabilityName,
  HistoricalEntityRows,
} from './options.js';
export { DEFAULT_RETRY_POLICY, withRetry } from './retry.js';
export type { RetryPolicy } from './retry.js';
export { DEFAULT_WRITE_BATCH_ROWS, toEpochMillis, toWriteBatches } from './write-batches.js';
export type { TimeInput, WriteBatch, WriteColumns, WriteRow } from './write-batches.js';
export { channelCredentials } from './credentials.js';
export type { ClientTlsOptions } from './credentials.js';
export { fromServiceError, grpcCodeName, isTesseraClientError, TesseraClientError } from './service-error.js';
export type { GrpcCodeName } from './service-error.js';
// The wire codec, re-exported so code written against the client keeps working.
export {
  toColumn,
  fromColumn,
  columnRowCount,
  columnValueType,
  toProtoValueType,
  fromProtoValueType,
  toProtoDefinitions,
  toProtoEntity,
  toProtoView,
  toProtoService,
  fromProtoDefinitions,
  fromProtoView,
  toProtoEntitySource,
  fromProtoEntitySource,
  toProtoScope,
  fromProtoScope,
  toProtoApiKey,
  changeKindName,
} from '@tessera/wire';
