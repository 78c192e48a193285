export { Client, type ClientOptions } from './Client.js';
export { ApiError, PublisherClosedError, RetriesExhaustedError, StreamError } from './errors.js';
export { eventId } from './eventId.js';
export {
  type AttemptOutcome,
  type AttemptRequest,
  attemptRequest,
  type Connection,
  type RetryNotice,
  type RetryOutcome,
  withRetries,
} from './httpAttempt.js';
export { type Delivery, type EventOutcome, Publisher, type PublisherOptions } from './Publisher.js';
export { nextLink, type PagesOptions, pages } from './pages.js';
export { batchBody, type PublishBatchOptions, type PublishResult, publishBody, publishEvents } from './publishBatch.js';
export { DEFAULT_RETRY_POLICY, parseRetryAfter, type RetryPolicy, retryDelay, sleep } from './retryPolicy.js';
export { type StreamOptions, streamEvents } from './streamEvents.js';
export { type SubscribeOptions, type Subscription, subscribe } from './subscribe.js';
export {
  type ErrorReply,
  EVENT_FIELDS,
  HANDLED_ERROR_CODES,
  type JsonObject,
  type JsonValue,
  type PublishEvent,
  type PublishReply,
  STORED_EVENT_FIELDS,
  type StoredEvent,
  type TopicSelector,
} from './types.js';
