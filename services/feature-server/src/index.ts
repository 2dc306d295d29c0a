export { startFeatureServer, DEFAULT_PORT } from './server.js';
export type { FeatureServer, FeatureServerOptions } from './server.js';
export type { BackendOptions } from './backends.js';
export { clusterRegistryLog } from './backends.js';
export { toGrpcStatus } from './grpc-status.js';
export { materializeView } from './materialize.js';
export { Lane, createLanes, DEFAULT_HISTORICAL_LANE_LIMIT, DEFAULT_MATERIALIZE_LANE_LIMIT } from './lanes.js';
export type { Lanes, LaneOptions } from './lanes.js';
