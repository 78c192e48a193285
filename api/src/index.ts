export { type Publisher, QueuePublisher, withTimeout } from './batchPublisher.js';
export { bearerAuth } from './bearerAuth.js';
export { closeAfterReply, REFUSED_BODY_LINGER_MS } from './closeAfterReply.js';
export { type CoalescingOptions, CoalescingPublisher } from './coalescingPublisher.js';
export { subscribeToCommits } from './commitSubscriber.js';
export { type AppDeps, createApp } from './createApp.js';
export type { Readiness } from './healthRoutes.js';
export { createHttpServer } from './httpServer.js';
export { OpenStreams, openStreamsOf, type StreamLimits } from './openStreams.js';
export { STATUS_PAGE_ASSETS } from './operations/statusPage/statusPage.js';
export {
  countPartitionJobs,
  openPartitionQueues,
  type PartitionCounts,
  type PartitionQueue,
  sumCounts,
} from './partitionQueues.js';
export { QueueDepthGuard } from './queueDepthGuard.js';
export { readStats, STATS_TOPICS, type Stats, WORKER_LIVENESS_MS } from './readStats.js';
export { lazyStoreReader, type StoreProvider } from './storeProvider.js';
export { StreamBudget } from './streamBudget.js';
export { StreamHub } from './streamHub.js';
export { type StreamDeps, streamRoute } from './streamRoute.js';
