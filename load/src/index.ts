export { liveChildren, ManagedChild } from './stack/childProcess.js';
export { freePort } from './stack/freePort.js';
export { type LocalStack, type LocalStackOptions, startLocalStack } from './stack/localStack.js';
export { type RedisServer, redisServerBinary, startRedisServer } from './stack/redisServer.js';
export { ENTRYPOINTS, REPO_ROOT, startApi, startWorker } from './stack/services.js';
