export { startFeatureServer, DEFAULT_PORT } from './server.js';
export type { FeatureServer, FeatureServerOptions } from './server.js';
export type { BackendOptions } from './backends.js';
export { clusterRegistryLog } from './backends.js';
export { toGrpcStatus } from './grpc-status.js';
export { materializeView } from './materialize.js';
export type { WriteBehindRetryOptions } from './backends.js';
export { HEALTH_SERVICE, ServerHealth } from './health.js';
export type { HealthChecks, HealthOptions } from './health.js';
