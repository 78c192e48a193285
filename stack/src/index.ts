export { liveChildren, ManagedChild } from './childProcess.js';
export { freePort } from './freePort.js';
export { exposureWarning, isLoopback, type ListenAddress, localUrl } from './listenAddress.js';
export { type LocalPostgres, startLocalPostgres } from './localPostgres.js';
export { type LocalStack, type LocalStackOptions, startLocalStack } from './localStack.js';
export {
  createDatabase,
  dropDatabase,
  hasPostgresBinaries,
  type PostgresServer,
  postgresBinDir,
  startPostgresServer,
} from './postgresServer.js';
export {
  type ClusterNodeProcess,
  type RedisCluster,
  type RedisClusterOptions,
  startRedisCluster,
} from './redisCluster.js';
export { type RedisAuth, type RedisServer, redisServerBinary, startRedisServer } from './redisServer.js';
export { ENTRYPOINTS, REPO_ROOT, startApi, startWorker } from './services.js';
