/**
 * soak.js: a long steady load (k6 `constant-arrival-rate`), to catch leaks, slow drift and
 * counters that go wrong only after hours.
 *
 * k6 starts RATE iterations per TIME_UNIT for DURATION; each POSTs BATCH_SIZE events, of which
 * DUP_RATIO re-send earlier events, and retries 429, 503 and network errors (honouring
 * Retry-After) until acknowledged. The run aborts early (abortOnFail, after a minute's grace)
 * once more than MAX_FAILED_RATE of the requests fail, rather than soaking a broken stack.
 *
 * Counter check (lib/verifyRun.js and the verify_* thresholds): exact, as in ramping.js: with
 * M events acknowledged, D of them duplicates, Δreceived == M, Δduplicate_dropped == D,
 * Δunique_processed == M - D, and the run's topics hold exactly the M - D fresh events, paged
 * through GET /events. After an abort or an interrupted iteration the balances check the bounds
 * that still hold. Budget TEARDOWN_TIMEOUT for paging: about 1000 events per request.
 *
 * Environment (`k6 run -e NAME=value`), defaults in brackets:
 *   RATE [20]                 iterations per TIME_UNIT
 *   TIME_UNIT [1s]
 *   DURATION [30m]
 *   PRE_ALLOCATED_VUS [20], MAX_VUS [200]
 *   BATCH_SIZE [10]           events per request
 *   DUP_RATIO [0.05]          share of events that are re-sends, 0 to 0.9
 *   MAX_DROPPED_ITERATIONS [0]  threshold on dropped_iterations
 *   P95_MS [300], P99_MS [800]  publish latency thresholds (ms)
 *   Common to all scripts (load/k6/README.md): BASE_URL [http://localhost:8080], TOPICS [1],
 *   PAYLOAD_BYTES [0], MAX_FAILED_RATE [0.001], MAX_THROTTLED_RATE [0.05], REQUEST_TIMEOUT [10s],
 *   RETRY_BUDGET [30s], DRAIN_TIMEOUT [2m], POLL_INTERVAL [500ms], TEARDOWN_TIMEOUT [10m].
 */
import { envDuration, envInt, loadTest } from './lib/index.js';

const preAllocatedVUs = envInt('PRE_ALLOCATED_VUS', 20, 1);

const test = loadTest({
  name: 'soak',
  defaults: { batchSize: 10, dupRatio: 0.05 },
  scenario: () => ({
    executor: 'constant-arrival-rate',
    rate: envInt('RATE', 20, 1),
    timeUnit: envDuration('TIME_UNIT', '1s').text,
    duration: envDuration('DURATION', '30m').text,
    preAllocatedVUs,
    maxVUs: envInt('MAX_VUS', Math.max(200, preAllocatedVUs), preAllocatedVUs),
  }),
  // Over a long run, stop early (after a minute's grace) once real failures pass the limit.
  thresholds: (settings) => ({
    http_req_failed: [{ threshold: `rate<${settings.maxFailedRate}`, abortOnFail: true, delayAbortEval: '1m' }],
    dropped_iterations: [`count<=${envInt('MAX_DROPPED_ITERATIONS', 0)}`],
  }),
});

export const options = test.options;
export const setup = test.setup;
export default test.iteration;
export const teardown = test.teardown;
