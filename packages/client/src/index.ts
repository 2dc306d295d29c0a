export { TesseraClient, fromServiceError, changeKindName, channelCredentials } from './client.js';
export type { TesseraClientOptions, ClientTlsOptions, OnlineFeatures, FeatureStatusName } from './client.js';
export {
  toColumn,
  fromColumn,
  columnRowCount,
  columnValueType,
  toProtoValueType,
  fromProtoValueType,
} from './columns.js';
export {
  toProtoDefinitions,
  toProtoEntity,
  toProtoView,
  toProtoService,
  fromProtoDefinitions,
  fromProtoView,
  toProtoEntitySource,
  fromProtoEntitySource,
} from './definitions.js';
export { toProtoScope, fromProtoScope, toProtoApiKey } from './api-keys.js';
