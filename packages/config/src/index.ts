export {
  LOG_LEVELS,
  FEAST_EXPIRED_MODES,
  authSchema,
  backendSchema,
  offlineServerSchema,
  configSchema,
  feastSchema,
  limitsSchema,
  logSchema,
  metricsSchema,
  redisNodeSchema,
  redisSchema,
  serverSchema,
  tlsSchema,
  tracingSchema,
  writerSchema,
} from './schema.js';
export type { TesseraConfig } from './schema.js';
export { SETTINGS, envName, parseSettingText, settingAt } from './settings.js';
export type { Setting, SettingKind } from './settings.js';
export { CONFIGURATION_ERROR_PREFIX, isConfigurationError, loadConfiguration } from './load.js';
export type { FlagSetting, LoadConfigurationOptions, LoadedConfiguration } from './load.js';
export { REDACTED, printConfiguration, redactConfiguration } from './print.js';
