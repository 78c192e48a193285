import { check, fail } from 'k6';
import { countersOf, forEachStoredEvent, waitForIdleQueue } from './api.js';
import {
  ackedFreshMinusStored,
  ackedMinusReceived,
  countersVerified,
  sentFreshMinusStored,
  sentMinusReceived,
} from './metrics.js';
import { isDuplicateSlot, ledgerTopic, runTopic, slotEvent, slotOfEventId } from './slots.js';

/**
 * The body of every script's `teardown()`: checks the aggregator's counters and stored events
 * against what this run sent, exactly, and fails the run when they differ.
 *
 * What the teardown can and cannot see
 * ------------------------------------
 * teardown() runs after every iteration has ended, but k6 shows it neither the VUs' metrics nor
 * (since k6 1.x, where it runs outside the execution context) `exec.instance`'s iteration counts.
 * So the checks are split in two:
 *
 * 1. Checks that need nothing from the VUs, made here (each failure fails the teardown):
 *    - the queue drained: nothing waiting, active or delayed, counters unchanged across two reads;
 *    - Δreceived == Δunique_processed + Δduplicate_dropped (deltas from setup()'s baseline);
 *    - no job failed for good (queue.failed did not grow);
 *    - every stored event in the run's topics (paging `GET /events` to the end) is a fresh slot of
 *      this run, stored once, in its topic, unaltered (timestamp, source, payload as sent);
 *    - the events stored in the run's topics == Δunique_processed - ledger entries;
 *    - `/stats` lists each of the run's topics that holds events.
 * 2. Checks that compare with what the VUs sent and had acknowledged: the teardown subtracts what
 *    it counted here from four balance Counters that the VUs added to, and k6's thresholds judge
 *    the sums after the teardown (metrics.js). In a complete run they amount to:
 *    stored == fresh events acknowledged, Δreceived == events acknowledged + ledger entries (+ at
 *    most the ledger's redelivery bound), and so Δduplicate_dropped == duplicates acknowledged
 *    (+ the same redeliveries). After interrupted iterations they check the bounds that still hold.
 *
 * At-least-once: a retry after a network error, timeout, 502, 503 or 504 may deliver a batch twice
 * (the failed attempt may have been enqueued). The service counts the second copy as received and
 * duplicate. The VU records an upper bound for each such retry in the run's ledger topic
 * (publishIteration.js), which is read back here through `/events`; with no ambiguous retry (the
 * normal case) the bound is 0 and every check is an equality.
 *
 * Limit: the deltas are global, so nothing else may publish to the stack during the run.
 */

/**
 * @param {import('./types.js').Settings} settings
 * @param {import('./types.js').RunData} run
 * @returns {string[]} the failed checks, empty when all passed
 */
function verify(settings, run) {
  const drained = waitForIdleQueue(settings);
  const now = countersOf(drained.stats);
  const base = run.baseline;
  const delta = {
    received: now.received - base.received,
    unique: now.unique_processed - base.unique_processed,
    duplicates: now.duplicate_dropped - base.duplicate_dropped,
    failed: now.failed - base.failed,
  };

  let ledgerEntries = 0;
  let redeliveredAtMost = 0;
  forEachStoredEvent(settings, ledgerTopic(run.runId), (event) => {
    ledgerEntries++;
    const bound = event.payload.redelivered_at_most;
    redeliveredAtMost += typeof bound === 'number' ? bound : 0;
  });

  /** @type {Set<number>} */
  const seen = new Set();
  /** @type {number[]} */
  const storedPerTopic = [];
  let stored = 0;
  /** @type {string[]} */
  const strays = [];
  /** @type {string[]} */
  const altered = [];
  for (let t = 0; t < settings.topics; t++) {
    storedPerTopic[t] = forEachStoredEvent(settings, runTopic(run.runId, t), (event) => {
      stored++;
      const slot = slotOfEventId(run.runId, event.event_id);
      const fresh = slot >= 0 && !isDuplicateSlot(slot, settings.dupScaled);
      if (!fresh || seen.has(slot) || event.topic !== runTopic(run.runId, slot % settings.topics)) {
        strays.push(`${event.topic}/${event.event_id}`);
        return;
      }
      seen.add(slot);
      const sent = slotEvent(run, settings, slot);
      if (
        event.timestamp !== sent.timestamp ||
        event.source !== sent.source ||
        JSON.stringify(event.payload) !== JSON.stringify(sent.payload)
      ) {
        altered.push(`${event.topic}/${event.event_id}`);
      }
    });
  }

  // The teardown's side of the balances; k6 judges the sums by threshold after the teardown.
  const received = delta.received - ledgerEntries;
  ackedFreshMinusStored.add(-stored);
  sentFreshMinusStored.add(-stored);
  ackedMinusReceived.add(-received);
  sentMinusReceived.add(redeliveredAtMost - received);

  console.info(
    `run ${run.runId}: Δreceived=${delta.received} Δunique_processed=${delta.unique} ` +
      `Δduplicate_dropped=${delta.duplicates} Δfailed_jobs=${delta.failed}; stored in run topics=${stored}; ` +
      `ledger entries=${ledgerEntries} (redelivered at most ${redeliveredAtMost}); ` +
      `queue ${drained.idle ? 'drained' : 'NOT drained'} after ${drained.waitedMs} ms. ` +
      'The verify_* thresholds compare these with what the VUs sent and had acknowledged ' +
      '(events_acked, events_duplicate_sent).',
  );

  /** @type {string[]} */
  const problems = [];
  /**
   * @param {string} name
   * @param {boolean} ok
   * @param {string} detail
   */
  const expect = (name, ok, detail) => {
    check(null, { [`teardown: ${name}`]: () => ok });
    if (!ok) problems.push(`${name}: ${detail}`);
  };
  const sample = (/** @type {string[]} */ list) => list.slice(0, 5).join(', ');

  expect(
    'the queue drained',
    drained.idle,
    `after ${drained.waitedMs} ms: ${JSON.stringify(drained.stats.queue)}, workers=${drained.stats.workers}`,
  );
  expect(
    'Δreceived == Δunique_processed + Δduplicate_dropped',
    delta.received === delta.unique + delta.duplicates,
    `${delta.received} != ${delta.unique} + ${delta.duplicates}`,
  );
  expect('no job failed', delta.failed <= 0, `${delta.failed} more failed jobs than before the run`);
  expect(
    'stored events are fresh slots of this run, each once, unaltered',
    strays.length === 0 && altered.length === 0,
    `${strays.length} unexpected (${sample(strays)}), ${altered.length} altered (${sample(altered)})`,
  );
  expect(
    'stored events == Δunique_processed - ledger entries',
    stored === delta.unique - ledgerEntries,
    `${stored} stored in the run's topics, Δunique_processed ${delta.unique}, ${ledgerEntries} ledger entries`,
  );
  const listed = drained.stats.topics;
  const missingTopics = storedPerTopic
    .map((n, t) => (n > 0 && !listed.includes(runTopic(run.runId, t)) ? runTopic(run.runId, t) : ''))
    .filter((topic) => topic !== '');
  expect('/stats lists the run topics', missingTopics.length === 0, `missing ${missingTopics.join(', ')}`);
  return problems;
}

/**
 * @param {import('./types.js').Settings} settings
 * @param {import('./types.js').RunData} run
 */
export function verifyRun(settings, run) {
  /** @type {string[]} */
  let problems = ['the teardown did not finish'];
  try {
    problems = verify(settings, run);
  } finally {
    countersVerified.add(problems.length === 0);
  }
  if (problems.length > 0) fail(`counter checks failed:\n  - ${problems.join('\n  - ')}`);
  console.info(
    `run ${run.runId}: the teardown's checks passed; the verify_* thresholds below give the verdict on the counts`,
  );
}
