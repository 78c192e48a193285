// The retry policy is the client's: the CLI publishes through it.
export { DEFAULT_RETRY_POLICY, parseRetryAfter, type RetryPolicy, retryDelay } from '@aggregator/client';
export { type HttpLoadOptions, type HttpLoadResult, runHttpLoad } from './bench/httpLoad.js';
export { type Batch, type EventPlan, EventSource, planEvents, runEvent } from './publisher/generateEvents.js';
export { EXIT, PUBLISH_HELP, type PublishOptions, parsePublishArgs, UsageError } from './publisher/publishOptions.js';
export type { PublishSummary } from './publisher/summary.js';
export { checkDeltas, type DeltaCheck, type StatsSnapshot } from './publisher/verifyStats.js';
export { liveChildren, ManagedChild } from './stack/childProcess.js';
export { freePort } from './stack/freePort.js';
export { exposureWarning, isLoopback, type ListenAddress, localUrl } from './stack/listenAddress.js';
export { type LocalPostgres, startLocalPostgres } from './stack/localPostgres.js';
export { type LocalStack, type LocalStackOptions, startLocalStack } from './stack/localStack.js';
export {
  createDatabase,
  dropDatabase,
  hasPostgresBinaries,
  type PostgresServer,
  postgresBinDir,
  startPostgresServer,
} from './stack/postgresServer.js';
export {
  type ClusterNodeProcess,
  type RedisCluster,
  type RedisClusterOptions,
  startRedisCluster,
} from './stack/redisCluster.js';
export { type RedisAuth, type RedisServer, redisServerBinary, startRedisServer } from './stack/redisServer.js';
export { API_NODE_FLAGS, ENTRYPOINTS, REPO_ROOT, startApi, startWorker } from './stack/services.js';
