/**
 * single.js: one event per request.
 *
 * VUS virtual users share ITERATIONS iterations (k6 `shared-iterations`); each iteration POSTs one
 * event to /publish and retries 429, 503 and network errors (honouring Retry-After) until it is
 * acknowledged. BATCH_SIZE is ignored here.
 *
 * Counter check (lib/verifyRun.js and the verify_* thresholds): exact. After the queue drains,
 * Δreceived and Δunique_processed both equal the events acknowledged (DUP_RATIO defaults to 0),
 * Δduplicate_dropped is 0, and the events stored under the run's topics are exactly the ones sent.
 *
 * Environment (`k6 run -e NAME=value`), defaults in brackets:
 *   VUS [20]             virtual users
 *   ITERATIONS [10000]   requests (= events) in total
 *   MAX_DURATION [10m]   stop the scenario after this long even if iterations remain
 *   P95_MS [200], P99_MS [500]  publish latency thresholds (ms)
 *   Common to all scripts (load/k6/README.md): BASE_URL [http://localhost:8080], DUP_RATIO [0],
 *   TOPICS [1], PAYLOAD_BYTES [0], MAX_FAILED_RATE [0.001], MAX_THROTTLED_RATE [0.05],
 *   REQUEST_TIMEOUT [10s], RETRY_BUDGET [30s], DRAIN_TIMEOUT [2m], POLL_INTERVAL [500ms],
 *   TEARDOWN_TIMEOUT [10m].
 */
import { loadTest, sharedIterations } from './lib/index.js';

const test = loadTest({
  name: 'single',
  defaults: { batchSize: 1, batchSizeFixed: true, p95Ms: 200, p99Ms: 500 },
  scenario: sharedIterations({ vus: 20, iterations: 10000 }),
});

export const options = test.options;
export const setup = test.setup;
export default test.iteration;
export const teardown = test.teardown;
