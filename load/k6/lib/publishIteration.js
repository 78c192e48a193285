import { check } from 'k6';
import exec from 'k6/execution';
import {
  ackedFreshMinusStored,
  ackedMinusReceived,
  ambiguousAttempts,
  duplicatesAcked,
  eventsAcked,
  publishAckDuration,
  publishGaveUp,
  publishRetries,
  publishThrottled,
  sentFreshMinusStored,
  sentMinusReceived,
} from './metrics.js';
import { sendWithRetry } from './sendWithRetry.js';
import { isDuplicateSlot, ledgerTopic, previousFreshSlot, SOURCE, slotEvent } from './slots.js';

/**
 * The body of every script's default function: one publish request per iteration.
 *
 * Iteration `g` (k6's `exec.scenario.iterationInTest`, unique and gap-free across all VUs of the
 * scenario) sends the batch of slots `g*B … g*B+B-1`. A fresh slot sends its own event; a
 * duplicate slot re-sends the event of a fresh slot this VU has already had acknowledged (a random
 * one of its last HISTORY_SIZE), or, before the VU has any, the nearest earlier fresh slot of the
 * run. Either way the target's pair is sent fresh exactly once in the run, so each duplicate slot
 * adds exactly one to `duplicate_dropped`, whichever copy the workers happen to store first.
 */

const HISTORY_SIZE = 256;

/** This VU's recently acknowledged fresh slots; k6 gives every VU its own module state. */
/** @type {number[]} */
const history = [];

/** @param {number[]} slots */
function remember(slots) {
  for (const slot of slots) {
    if (history.length < HISTORY_SIZE) history.push(slot);
    else history[Math.floor(Math.random() * HISTORY_SIZE)] = slot;
  }
}

/**
 * @param {number} slot
 * @param {number} dupScaled
 * @returns {number}
 */
function duplicateTarget(slot, dupScaled) {
  const known = history[Math.floor(Math.random() * history.length)];
  return known ?? previousFreshSlot(slot, dupScaled);
}

/**
 * POSTs `events` with retries; records the publish metrics.
 * @param {import('./types.js').Settings} settings
 * @param {import('./types.js').Event[]} events
 * @returns {import('./sendWithRetry.js').CallOutcome}
 */
function publish(settings, events) {
  const outcome = sendWithRetry({
    method: 'POST',
    url: `${settings.baseUrl}/publish`,
    body: JSON.stringify(events),
    name: 'publish',
    timeout: settings.requestTimeout,
    budgetMs: settings.retryBudgetMs,
    onAttempt: (res) => publishThrottled.add(res.status === 429 || res.status === 503),
  });
  if (outcome.attempts > 1) publishRetries.add(outcome.attempts - 1);
  if (outcome.ambiguous > 0) ambiguousAttempts.add(outcome.ambiguous);
  if (!outcome.ok) {
    publishGaveUp.add(1);
    const body = typeof outcome.res.body === 'string' ? outcome.res.body.slice(0, 300) : '';
    console.error(
      `publish of ${events.length} events given up after ${outcome.attempts} attempts / ${outcome.elapsedMs} ms: ` +
        `status ${outcome.res.status} ${outcome.res.error} ${body}`,
    );
    return outcome;
  }
  publishAckDuration.add(outcome.elapsedMs);
  check(outcome.res, {
    'publish answers {"accepted": <events sent>}': (res) => {
      const accepted = res.json('accepted');
      return accepted === events.length;
    },
  });
  return outcome;
}

/**
 * Records in the run's ledger that up to `events` events may have been delivered twice, until a
 * ledger entry is itself acknowledged without an ambiguous attempt (each entry bounds the
 * redelivery of the request before it, the previous ledger entry included).
 *
 * @param {import('./types.js').Settings} settings
 * @param {import('./types.js').RunData} run
 * @param {number} iteration
 * @param {number} events
 */
function recordRedeliveryBound(settings, run, iteration, events) {
  let bound = events;
  for (let n = 0; bound > 0; n++) {
    const entry = {
      topic: ledgerTopic(run.runId),
      event_id: `${run.runId}-ledger-${iteration}-${n}`,
      timestamp: new Date().toISOString(),
      source: SOURCE,
      payload: { run: run.runId, iteration, redelivered_at_most: bound },
    };
    const outcome = publish(settings, [entry]);
    if (!outcome.ok) return;
    bound = outcome.ambiguous;
  }
}

/**
 * @param {import('./types.js').Settings} settings
 * @param {import('./types.js').RunData} run
 */
export function publishIteration(settings, run) {
  const iteration = exec.scenario.iterationInTest;
  const first = iteration * settings.batchSize;
  /** @type {import('./types.js').Event[]} */
  const events = [];
  /** @type {number[]} */
  const fresh = [];
  for (let slot = first; slot < first + settings.batchSize; slot++) {
    if (isDuplicateSlot(slot, settings.dupScaled)) {
      events.push(slotEvent(run, settings, duplicateTarget(slot, settings.dupScaled)));
    } else {
      events.push(slotEvent(run, settings, slot));
      fresh.push(slot);
    }
  }
  // The VUs' side of the balances (metrics.js): what this iteration sends, before it may be
  // interrupted, and what it had acknowledged, once it is.
  sentFreshMinusStored.add(fresh.length);
  sentMinusReceived.add(events.length);
  const outcome = publish(settings, events);
  if (outcome.ok) {
    eventsAcked.add(events.length);
    duplicatesAcked.add(events.length - fresh.length);
    ackedFreshMinusStored.add(fresh.length);
    ackedMinusReceived.add(events.length);
    remember(fresh);
  }
  if (outcome.ambiguous > 0) recordRedeliveryBound(settings, run, iteration, outcome.ambiguous * events.length);
}
