export { VALUE_TYPES, JOIN_KEY_TYPES } from './model.js';
export type {
  ValueType,
  JoinKeyType,
  FeatureValue,
  JoinKeyValue,
  JoinKeySpec,
  EntityDef,
  Constraints,
  FeatureDef,
  SourceDef,
  FeatureViewDef,
  FeatureServiceDef,
  Definitions,
  RegisteredView,
} from './model.js';
export { ERROR_CODES, TesseraError, formatProblems, isTesseraError } from './errors.js';
export type { ErrorCode, Problem, TesseraErrorOptions } from './errors.js';
export { retentionMillis } from './online-store.js';
export type {
  OnlineStore,
  OnlineLookup,
  OnlineWriteBatch,
  OnlineReadOptions,
  OnlineWriteOptions,
  OnlineWriteResult,
} from './online-store.js';
export { entityKey, viewField } from './keys.js';
