/**
 * batch.js: batches of BATCH_SIZE events per request.
 *
 * VUS virtual users share ITERATIONS iterations (k6 `shared-iterations`); each iteration POSTs one
 * JSON array of BATCH_SIZE events and retries 429, 503 and network errors (honouring Retry-After)
 * until it is acknowledged.
 *
 * Counter check (lib/verifyRun.js and the verify_* thresholds): exact. After the queue drains,
 * Δreceived and Δunique_processed both equal acknowledged iterations × BATCH_SIZE (DUP_RATIO
 * defaults to 0), and the events stored under the run's topics are exactly the ones sent.
 *
 * Environment (`k6 run -e NAME=value`), defaults in brackets:
 *   VUS [10]             virtual users
 *   ITERATIONS [1000]    requests in total
 *   BATCH_SIZE [100]     events per request (the API's MAX_BATCH defaults to 10000)
 *   MAX_DURATION [10m]   stop the scenario after this long even if iterations remain
 *   P95_MS [500], P99_MS [1000]  publish latency thresholds (ms)
 *   Common to all scripts (load/k6/README.md): BASE_URL [http://localhost:8080], DUP_RATIO [0],
 *   TOPICS [1], PAYLOAD_BYTES [0], MAX_FAILED_RATE [0.001], MAX_THROTTLED_RATE [0.05],
 *   REQUEST_TIMEOUT [10s], RETRY_BUDGET [30s], DRAIN_TIMEOUT [2m], POLL_INTERVAL [500ms],
 *   TEARDOWN_TIMEOUT [10m].
 */
import { loadTest, sharedIterations } from './lib/index.js';

const test = loadTest({
  name: 'batch',
  defaults: { batchSize: 100, p95Ms: 500, p99Ms: 1000 },
  scenario: sharedIterations({ vus: 10, iterations: 1000 }),
});

export const options = test.options;
export const setup = test.setup;
export default test.iteration;
export const teardown = test.teardown;
