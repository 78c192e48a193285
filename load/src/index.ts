// The retry policy is the client's: the CLI publishes through it.
export { DEFAULT_RETRY_POLICY, parseRetryAfter, type RetryPolicy, retryDelay } from '@aggregator/client';
export { type HttpLoadOptions, type HttpLoadResult, runHttpLoad } from './bench/httpLoad.js';
export { type Batch, type EventPlan, EventSource, planEvents, runEvent } from './publisher/generateEvents.js';
export { EXIT, PUBLISH_HELP, type PublishOptions, parsePublishArgs } from './publisher/publishOptions.js';
export type { PublishSummary } from './publisher/summary.js';
export { checkDeltas, type DeltaCheck, type StatsSnapshot } from './publisher/verifyStats.js';
