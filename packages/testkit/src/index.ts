// Test and benchmark infrastructure shared by test/ and bench/: real components only (a Redis Cluster
// of real redis-server processes, Go tools built from the module proxy, `tessera` CLI processes).
export {
  countOnlineReplicas,
  parseClusterNodes,
  parseInfo,
  SLOT_COUNT,
  slotOwners,
  type ClusterNodeEntry,
} from './cluster-nodes.js';
export { makeTestCertificates, type TestCertificates } from './certs.js';
export {
  REPO_ROOT,
  startCli,
  startOfflineServerCli,
  startServeProcess,
  startWriterCli,
  type CliProcess,
  type OfflineServerCli,
  type StartCliOptions,
} from './cli-process.js';
export { definitionsFromYaml } from './definitions.js';
export { runningQueries, type JsonQueryEngine } from './engine-queries.js';
export { findExecutable } from './executables.js';
export {
  ensureGoTool,
  ensureGrpcurl,
  ensureHelm,
  ensureTool,
  findGo,
  GO_BIN_DIR,
  GO_BIN_DIR_ENV,
  goBinDir,
  goToolPath,
  GRPCURL,
  HELM,
  tesseraCacheDir,
  type GoTool,
} from './go-tools.js';
export { findFreePorts, isPortFree, isPortReserved, releasePorts, type FindFreePortsOptions } from './ports.js';
export { isProcessAlive, pollUntil, sleep } from './processes.js';
export { ensurePythonVenv, pythonVenvDir, type PythonVenvOptions } from './python-venv.js';
export {
  assertRedisInstalled,
  REDIS_INSTALL_COMMAND,
  startRedisCluster,
  type RedisClusterHandle,
  type RedisClusterOptions,
  type WaitForHealthyOptions,
} from './redis-cluster.js';
export {
  RedisReplyError,
  sendRedisCommand,
  sendRedisTextCommand,
  type RedisNodeAddress,
  type RedisReply,
} from './redis-command.js';
export {
  JAEGER,
  JAEGER_BUILD_TIMEOUT_MILLIS,
  ensureJaeger,
  jaegerPath,
  startJaeger,
  type RunningJaeger,
} from './jaeger.js';
export { startPasswordCluster, startSecuredRedis, type PasswordCluster, type SecuredRedis } from './secured-redis.js';
