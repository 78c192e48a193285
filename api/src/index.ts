export {
  eventsQuerySchema,
  publishReplySchema,
  statsSchema,
  storedEventSchema,
} from './apiSchemas.js';
export { type ApiOverrides, type ApiProcess, composeApi } from './composeApi.js';
export { type AppDeps, createApp } from './createApp.js';
export {
  AppError,
  type AppErrorOptions,
  BatchTooLargeError,
  CrossSiteRequestError,
  ERROR_CODES,
  type ErrorCode,
  InvalidQueryError,
  MalformedJsonError,
  PayloadTooLargeError,
  QueueFullError,
  UnauthorizedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationError,
  type ValidationIssue,
} from './http/appErrors.js';
export { bearerAuth } from './http/bearerAuth.js';
export { closeAfterReply, REFUSED_BODY_LINGER_MS } from './http/closeAfterReply.js';
export { createHttpServer } from './http/httpServer.js';
export { API_NODE_FLAGS } from './nodeFlags.js';
export type { Readiness } from './operations/healthRoutes.js';
export { readStats, STATS_TOPICS, type Stats } from './operations/readStats.js';
export { STATUS_PAGE_ASSETS } from './operations/statusPage/statusPage.js';
export { type Publisher, QueuePublisher, withTimeout } from './publishing/batchPublisher.js';
export { type CoalescingOptions, CoalescingPublisher } from './publishing/coalescingPublisher.js';
export { parsePublishBody } from './publishing/parsePublishBody.js';
export {
  countPartitionJobs,
  openPartitionQueues,
  type PartitionCounts,
  type PartitionQueue,
  sumCounts,
} from './publishing/partitionQueues.js';
export { QueueDepthGuard } from './publishing/queueDepthGuard.js';
export { lazyStoreReader, type StoreProvider } from './reading/storeProvider.js';
export { subscribeToCommits } from './streams/commitSubscriber.js';
export { OpenStreams, openStreamsOf, type StreamLimits } from './streams/openStreams.js';
export { StreamBudget } from './streams/streamBudget.js';
export { StreamHub } from './streams/streamHub.js';
export { type StreamDeps, streamRoute } from './streams/streamRoute.js';
