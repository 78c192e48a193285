export { integerOption, UsageError } from './cliOptions.js';
export {
  type ClusterNode,
  CONFIG_VARIABLES,
  type Config,
  ConfigError,
  configSchema,
  loadConfig,
  loadConfigOrExit,
  type MemoryBudget,
  parseMemoryBudget,
} from './config.js';
export {
  type CountersSource,
  type MirroredCounters,
  type MirrorState,
  mirrorState,
  publishCounters,
  readMirroredCounters,
  resyncFromStore,
} from './countersMirror.js';
export * from './errors.js';
export {
  acceptEvent,
  eventSchema,
  identifier,
  inspectJson,
  isJsonObject,
  type JsonShape,
  MAX_PAYLOAD_DEPTH,
} from './eventSchema.js';
export { FAILPOINT_NAMES, type FailpointName, type Failpoints, parseFailpoints } from './failpoints.js';
export { keySlot } from './keySlot.js';
export { createKeys, type KeyOptions, type Keys, keysFromConfig, pairIdentity, type QueueKeys } from './keys.js';
export { handleSignals, Resources } from './lifecycle.js';
export { HEARTBEAT_MS, WORKER_LIVENESS_MS } from './liveness.js';
export { createLogger, type Logger } from './logger.js';
export { createMetrics, type Metrics, scrapeGauge, serveMetrics } from './metrics.js';
export { announceReady, isReadyMessage, onParentGone, type ReadyMessage } from './parentChannel.js';
export { fnv1a32, parsePartitionList, partitionOf } from './partition.js';
export {
  type ConnectionRole,
  createRedis,
  ensureReady,
  quitRedis,
  type Redis,
  type RedisTarget,
  waitReady,
} from './redis.js';
export { observeRedis, type RedisMemory, readRedisMemory, warnAboutEviction } from './redisChecks.js';
export { withScript } from './scripts.js';
export {
  type PatternSegment,
  parseTopicPattern,
  type TopicPattern,
  TopicPatternError,
} from './topicPattern.js';
export type * from './types.js';
