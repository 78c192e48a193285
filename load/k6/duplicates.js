/**
 * duplicates.js: a mix in which DUP_RATIO (20 %) of the events re-send an event already sent.
 *
 * VUS virtual users share ITERATIONS iterations (k6 `shared-iterations`) of BATCH_SIZE events.
 * Event number s of the run (its "slot") is a duplicate when floor((s+1)·r) > floor(s·r), so
 * exactly floor(M·r) of the first M events are duplicates, spread evenly. A duplicate re-sends,
 * byte for byte, an event this VU has already had acknowledged (a random one of its last 256), or,
 * before the VU has one, the nearest earlier fresh event of the run. Every re-sent pair is sent
 * fresh exactly once in the run, so each duplicate adds exactly one to duplicate_dropped, whichever
 * copy the workers store first, even with many VUs racing.
 *
 * Counter check (lib/verifyRun.js and the verify_* thresholds): exact. With M = acknowledged
 * iterations × BATCH_SIZE and D = floor(M·DUP_RATIO): Δreceived == M, Δduplicate_dropped == D, Δunique_processed == M - D,
 * and the events stored under the run's topics are exactly the M - D fresh ones.
 *
 * Environment (`k6 run -e NAME=value`), defaults in brackets:
 *   VUS [20]             virtual users
 *   ITERATIONS [10000]   requests in total
 *   BATCH_SIZE [1]       events per request; >1 also mixes duplicates into batches
 *   DUP_RATIO [0.2]      share of events that are re-sends, 0 to 0.9
 *   MAX_DURATION [10m]   stop the scenario after this long even if iterations remain
 *   P95_MS [200], P99_MS [500]  publish latency thresholds (ms)
 *   Common to all scripts (load/k6/README.md): BASE_URL [http://localhost:8080], TOPICS [1],
 *   PAYLOAD_BYTES [0], MAX_FAILED_RATE [0.001], MAX_THROTTLED_RATE [0.05], REQUEST_TIMEOUT [10s],
 *   RETRY_BUDGET [30s], DRAIN_TIMEOUT [2m], POLL_INTERVAL [500ms], TEARDOWN_TIMEOUT [10m].
 */
import { loadTest, sharedIterations } from './lib/index.js';

const test = loadTest({
  name: 'duplicates',
  defaults: { batchSize: 1, dupRatio: 0.2, p95Ms: 200, p99Ms: 500 },
  scenario: sharedIterations({ vus: 20, iterations: 10000 }),
});

export const options = test.options;
export const setup = test.setup;
export default test.iteration;
export const teardown = test.teardown;
