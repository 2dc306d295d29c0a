export { createLogger, activeTraceFields } from './logger.js';
export type { CreateLoggerOptions, LogLevel } from './logger.js';
export { TesseraMetrics } from './metrics.js';
export type { QueueKind, QueueStats, ServedStatus, TesseraMetricsOptions, ViewInsertCounters } from './metrics.js';
export { FreshnessTable, ViewFreshness } from './freshness.js';
export type { FreshnessSource } from './freshness.js';
export { RpcDurations } from './rpc-durations.js';
export { startMetricsServer } from './metrics-server.js';
export type { MetricsEndpointOptions, MetricsServer } from './metrics-server.js';
