export { TesseraClient, fromServiceError, changeKindName } from './client.js';
export type { TesseraClientOptions, OnlineFeatures, FeatureStatusName } from './client.js';
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
} from './definitions.js';
