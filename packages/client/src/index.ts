export { TesseraClient } from './client.js';
export type { TesseraClientOptions, LoadBalancingPolicy, OnlineFeatures, FeatureStatusName } from './client.js';
export { channelCredentials } from './credentials.js';
export type { ClientTlsOptions } from './credentials.js';
export { fromServiceError } from './service-error.js';
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
