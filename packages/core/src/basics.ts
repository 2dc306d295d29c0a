/**
 * `@tessera/core/basics`: the part of the domain a client process needs — errors, times, value text,
 * the small rules the wire codec and the `tessera` client commands apply — and nothing that pulls in
 * the definitions language (YAML), CEL, the registry or the codecs. The full entry point
 * (`@tessera/core`) exports the same symbols from the same modules, so a process that loads both
 * still has one `TesseraError` class. A `tessera get` starts in a fraction of the time through it
 * (packages/cli/test/startup.test.ts keeps it that way).
 */
export { ERROR_CODES, GRPC_CODE_NAMES, TesseraError, formatProblems, grpcCodeName, isTesseraError } from './errors.js';
export type { ErrorCode, GrpcCodeName, Problem, TesseraErrorOptions } from './errors.js';
export {
  MAX_TIMESTAMP_MILLIS,
  TIMESTAMP_FORMATS_HINT,
  parseTimestamp,
  formatTimestamp,
  nowMicros,
} from './timestamps.js';
export { WRONG_TYPE, coerceFeatureValue, coerceJoinKey, formatValue, describeValue } from './values.js';
export { parseTtl, formatTtl } from './definitions/ttl.js';
export type { TtlParseResult } from './definitions/ttl.js';
export {
  DEFAULT_ALLOWED_LATENESS_MILLIS,
  DEFAULT_FUTURE_TOLERANCE_MILLIS,
  describeAggregationShape,
} from './definitions/aggregation-rules.js';
export { SCOPES, API_KEY_NAME_PATTERN, checkApiKeyName, scopeAllows, parseScopes } from './api-keys.js';
export type { Scope, ApiKeyRecord, ApiKeyStore } from './api-keys.js';
export type {
  ValueType,
  JoinKeyType,
  FeatureValue,
  JoinKeyValue,
  JoinKeySpec,
  EntityDef,
  Constraints,
  FeatureDef,
  FeatureViewDef,
  FeatureServiceDef,
  Definitions,
  RegisteredView,
  AggregationDef,
  AggregationFunction,
  AggregationState,
  EventOptions,
  RegisteredAggregation,
} from './model.js';
