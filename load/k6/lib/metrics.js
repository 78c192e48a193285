import { Counter, Rate, Trend } from 'k6/metrics';

/**
 * Custom metrics. k6 only allows creating them in the init context, which is where this module
 * is first imported. The counters are reported in the end-of-test summary for people; the
 * teardown cannot read metric values, so it derives its expectations another way (verifyRun.js).
 */

/** Events in publish requests answered 200, duplicates included. */
export const eventsAcked = new Counter('events_acked');
/** Of those, events that re-sent an earlier slot's event on purpose. */
export const duplicatesAcked = new Counter('events_duplicate_sent');
/** Publish attempts after the first, whatever the reason. */
export const publishRetries = new Counter('publish_retries');
/** Publish attempts that may have enqueued although they failed (see types.js). */
export const ambiguousAttempts = new Counter('publish_ambiguous_attempts');
/** Publish requests abandoned: refused outright (4xx, 500) or still failing after RETRY_BUDGET. */
export const publishGaveUp = new Counter('publish_gave_up');
/** Per publish attempt: true when answered 429 or 503. */
export const publishThrottled = new Rate('publish_throttled');
/** From the first attempt of a publish to its 200, retries and back-off included (ms). */
export const publishAckDuration = new Trend('publish_ack_duration', true);
/** One sample per teardown: true when every counter check passed. */
export const countersVerified = new Rate('counters_verified');
