export { commitAnnouncer } from './announceCommits.js';
export {
  composeWorker,
  type PartitionWorker,
  type StartedWorker,
  type WorkerOverrides,
  type WorkerProcess,
} from './composeWorker.js';
export { consumedQueues } from './consumedQueues.js';
export { createWorker } from './createWorker.js';
export { decodeJobId, encodeJobId, FastPath, pairDigest } from './fastPath.js';
export {
  FAST_PATH_LAYOUT,
  type FastPathGeometry,
  fastPathGeometry,
  partitionBudget,
  readFastPathGeometry,
} from './fastPathBudget.js';
export { GroupCommitter } from './groupCommit.js';
export { startHeartbeat } from './heartbeat.js';
export { APPLIED_JOB_RETENTION_MS, startMaintenance } from './maintenance.js';
export { type ProcessDeps, processBatch } from './processBatch.js';
export { validateJobData } from './validateJobData.js';
