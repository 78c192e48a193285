import { Counter, Rate, Trend } from 'k6/metrics';

/**
 * Custom metrics. k6 only allows creating them in the init context, which is where this module
 * is first imported.
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
/** One sample per teardown: true when every check the teardown makes itself passed. */
export const countersVerified = new Rate('counters_verified');

/*
 * Balances: the run's exact counter checks, as thresholds.
 *
 * The teardown cannot see what the VUs did: k6 gives it neither metric values nor, since k6 1.x,
 * `exec.instance` (it runs outside the execution context). Thresholds see both sides, so each
 * balance is a Counter that the VUs add to (what an iteration sent, when it starts; what it had
 * acknowledged, on its 200) and the teardown subtracts from (what the service reports). k6 sums
 * every sample, after the teardown too, and judges the sum:
 *
 *   verify_acked_fresh_minus_stored  <= 0   no acknowledged event is missing from the store
 *   verify_sent_fresh_minus_stored   >= 0   nothing is stored that the run did not send
 *   verify_acked_minus_received      <= 0   every acknowledged event was received
 *   verify_sent_minus_received       >= 0   nothing was received beyond what was sent, plus the
 *                                           redeliveries the ledger allows (the teardown adds them)
 *
 * When every iteration that started was acknowledged (a complete run), sent == acked, so each pair
 * pins its quantity exactly: stored == fresh events acknowledged, and received == events
 * acknowledged (+ ledger-allowed redeliveries). When iterations were interrupted (Ctrl-C,
 * gracefulStop), which of their events arrived is unknowable, and the pairs check the bounds that
 * still hold. The sums count every k6 instance, so this holds for distributed runs too.
 */

/** Fresh events of acknowledged iterations minus events stored in the run's topics. */
export const ackedFreshMinusStored = new Counter('verify_acked_fresh_minus_stored');
/** Fresh events of started iterations minus events stored in the run's topics. */
export const sentFreshMinusStored = new Counter('verify_sent_fresh_minus_stored');
/** Events of acknowledged iterations minus Δreceived (ledger entries aside). */
export const ackedMinusReceived = new Counter('verify_acked_minus_received');
/** Events of started iterations plus allowed redeliveries minus Δreceived (ledger entries aside). */
export const sentMinusReceived = new Counter('verify_sent_minus_received');

/** The thresholds that make the balances checks (see above). */
export const balanceThresholds = {
  verify_acked_fresh_minus_stored: ['count<=0'],
  verify_sent_fresh_minus_stored: ['count>=0'],
  verify_acked_minus_received: ['count<=0'],
  verify_sent_minus_received: ['count>=0'],
};

/** Every Counter, so setup() can give each a zero sample (it then shows in the summary). */
export const allCounters = [
  eventsAcked,
  duplicatesAcked,
  publishRetries,
  ambiguousAttempts,
  publishGaveUp,
  ackedFreshMinusStored,
  sentFreshMinusStored,
  ackedMinusReceived,
  sentMinusReceived,
];
