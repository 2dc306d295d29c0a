/**
 * The wire codec: conversions between the generated protobuf messages (`@tessera/proto`) and the
 * domain model (`@tessera/core`), shared by the feature server, the client and the CLI so both ends
 * of a call read and write the same shapes.
 */
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
export { changeKindName } from './change-kind.js';
export {
  toProtoAggregation,
  fromProtoAggregation,
  fromProtoRegisteredAggregation,
  toProtoEventOptions,
  fromProtoEventOptions,
  toProtoViewKind,
  fromProtoViewKind,
} from './aggregations.js';
export { addWriteTotals, emptyWriteTotals } from './write-totals.js';
