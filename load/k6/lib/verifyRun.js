import { check, fail } from 'k6';
import exec from 'k6/execution';
import { countersOf, forEachStoredEvent, waitForIdleQueue } from './api.js';
import { countersVerified } from './metrics.js';
import { duplicateSlotsBelow, isDuplicateSlot, ledgerTopic, runTopic, slotEvent, slotOfEventId } from './slots.js';

/**
 * The body of every script's `teardown()`: checks the aggregator's counters against what this
 * run sent, exactly, and fails the run when they differ.
 *
 * How the teardown knows what was sent
 * ------------------------------------
 * teardown() cannot read metric values, and VUs cannot hand it data. Instead the expectations are
 * computed from two things the teardown can see:
 *
 * 1. `exec.instance.iterationsCompleted` (N), which k6 does expose to teardown(). Each iteration
 *    publishes exactly one batch of B events and retries until it is acknowledged (or counts in
 *    `publish_gave_up`, which fails the run by threshold). Iterations are numbered gap-free by
 *    `exec.scenario.iterationInTest`, so the run used exactly the slots 0 … N·B-1, whatever the
 *    executor: shared-iterations, or arrival-rate executors with dropped iterations (a dropped
 *    iteration never gets a number).
 * 2. The slot layout (slots.js) is a pure function of the slot number: the duplicate slots among
 *    0 … N·B-1 number D = floor(N·B·DUP_RATIO), and every duplicate re-sends a pair that the run
 *    sends fresh exactly once. So the run acknowledged E = N·B events, of which U = N·B - D are
 *    distinct pairs.
 *
 * At-least-once: a retry after a network error, timeout, 502, 503 or 504 may deliver a batch twice
 * (the failed attempt may have been enqueued). The service counts the second copy as received and
 * duplicate, so `received` may exceed E. The VU records an upper bound for each such retry in the
 * run's ledger topic (publishIteration.js), which the teardown reads back through `/events`; with
 * no ambiguous retry (the normal case) the bound is 0 and every check below is an equality.
 *
 * What is checked, after waiting for the queue to drain (deltas from the baseline setup() read):
 * - the queue drained: nothing waiting, active or delayed, counters unchanged across two reads;
 * - Δreceived == Δunique_processed + Δduplicate_dropped;
 * - no job failed for good (queue.failed did not grow);
 * - every stored event in the run's topics is a fresh slot < N·B, in its topic, unaltered
 *   (timestamp, source, payload byte-equal to what was sent), paging `GET /events` to the end;
 * - the number of stored events in the run's topics == U (so, with the above: exactly the fresh
 *   slots are stored, none lost);
 * - Δunique_processed == U + L, where L = ledger entries (normally 0);
 * - Δreceived - (E + L) is between 0 and the ledger's redelivery bound (normally exactly 0);
 * - Δduplicate_dropped - D equals that same surplus;
 * - `/stats` lists each of the run's topics that holds events.
 *
 * Limits: the deltas are global, so nothing else may publish to the stack during the run; and
 * exec.instance counts one k6 process, so this holds for local runs, not distributed ones. If an
 * iteration was interrupted (Ctrl-C, test.abort(), gracefulStop exceeded), which of its events
 * arrived is unknowable: the teardown then checks only the invariant, the failed jobs, and that
 * stored events are unaltered fresh slots, and says so.
 */

/**
 * @param {import('./types.js').Settings} settings
 * @param {import('./types.js').RunData} run
 * @returns {string[]} the failed checks, empty when all passed
 */
function verify(settings, run) {
  const completed = exec.instance.iterationsCompleted;
  const interrupted = exec.instance.iterationsInterrupted;
  const exact = interrupted === 0;
  const B = settings.batchSize;

  const drained = waitForIdleQueue(settings);
  const now = countersOf(drained.stats);
  const base = run.baseline;
  const delta = {
    received: now.received - base.received,
    unique: now.unique_processed - base.unique_processed,
    duplicates: now.duplicate_dropped - base.duplicate_dropped,
    failed: now.failed - base.failed,
  };

  const acknowledged = completed * B;
  const expectedDuplicates = duplicateSlotsBelow(acknowledged, settings.dupScaled);
  const expectedUnique = acknowledged - expectedDuplicates;
  // Slots any started iteration may have used: interrupted iterations took numbers too.
  const slotLimit = (completed + interrupted) * B;

  let ledgerEntries = 0;
  let redeliveredAtMost = 0;
  forEachStoredEvent(settings, ledgerTopic(run.runId), (event) => {
    ledgerEntries++;
    const bound = event.payload.redelivered_at_most;
    redeliveredAtMost += typeof bound === 'number' ? bound : 0;
  });

  const seen = new Uint8Array(slotLimit);
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
      const fresh = slot >= 0 && slot < slotLimit && !isDuplicateSlot(slot, settings.dupScaled);
      if (!fresh || seen[slot] === 1 || event.topic !== runTopic(run.runId, slot % settings.topics)) {
        strays.push(`${event.topic}/${event.event_id}`);
        return;
      }
      seen[slot] = 1;
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

  console.info(
    `run ${run.runId}: ${completed} iterations completed, ${interrupted} interrupted, batch ${B}; ` +
      `expected acknowledged=${acknowledged} unique=${expectedUnique} duplicates=${expectedDuplicates}; ` +
      `Δreceived=${delta.received} Δunique_processed=${delta.unique} Δduplicate_dropped=${delta.duplicates} ` +
      `Δfailed_jobs=${delta.failed}; stored in run topics=${stored}; ledger entries=${ledgerEntries} ` +
      `(redelivered at most ${redeliveredAtMost}); queue ${drained.idle ? 'drained' : 'NOT drained'} ` +
      `after ${drained.waitedMs} ms`,
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
    'stored events are fresh slots of this run, unaltered',
    strays.length === 0 && altered.length === 0,
    `${strays.length} unexpected (${sample(strays)}), ${altered.length} altered (${sample(altered)})`,
  );
  const listed = drained.stats.topics;
  const missingTopics = storedPerTopic
    .map((n, t) => (n > 0 && !listed.includes(runTopic(run.runId, t)) ? runTopic(run.runId, t) : ''))
    .filter((topic) => topic !== '');
  expect('/stats lists the run topics', missingTopics.length === 0, `missing ${missingTopics.join(', ')}`);

  if (!exact) {
    console.warn(
      `${interrupted} iterations were interrupted, so which of their events arrived is unknowable: ` +
        'the exact count checks are skipped',
    );
    return problems;
  }
  const surplus = delta.received - (acknowledged + ledgerEntries);
  expect(
    'stored events == fresh slots acknowledged',
    stored === expectedUnique,
    `${stored} stored, ${expectedUnique} expected (${acknowledged} acknowledged - ${expectedDuplicates} duplicates)`,
  );
  expect(
    'Δunique_processed == fresh slots + ledger entries',
    delta.unique === expectedUnique + ledgerEntries,
    `${delta.unique} != ${expectedUnique} + ${ledgerEntries}`,
  );
  expect(
    'Δreceived == events acknowledged (+ redeliveries the ledger allows)',
    surplus >= 0 && surplus <= redeliveredAtMost,
    `${delta.received} received, ${acknowledged + ledgerEntries} acknowledged, ` +
      `at most ${redeliveredAtMost} redelivered (publish_gave_up > 0 also explains a shortfall)`,
  );
  expect(
    'Δduplicate_dropped == duplicate slots + redeliveries',
    delta.duplicates - expectedDuplicates === surplus,
    `${delta.duplicates} dropped, ${expectedDuplicates} duplicate slots, ${surplus} redelivered`,
  );
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
  console.info(`run ${run.runId}: all counter checks passed`);
}
