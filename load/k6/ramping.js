/**
 * ramping.js: an arrival rate that ramps up and down (k6 `ramping-arrival-rate`), to find where
 * latency or backpressure (429) starts.
 *
 * k6 starts iterations at the rate of STAGES regardless of how fast the service answers; each
 * iteration POSTs BATCH_SIZE events and retries 429, 503 and network errors (honouring
 * Retry-After) until acknowledged. When all MAX_VUS are busy, k6 drops iterations
 * (`dropped_iterations`, threshold MAX_DROPPED_ITERATIONS).
 *
 * Counter check (lib/verifyRun.js and the verify_* thresholds): exact, although the number of
 * iterations is not known in advance. Dropped iterations never start and send nothing; every
 * iteration that starts adds what it sends to the balances, and what it had acknowledged once it
 * is. If an iteration was interrupted (gracefulStop exceeded, Ctrl-C), which of its events arrived
 * is unknowable, and the balances check the bounds that still hold: nothing acknowledged is
 * missing, nothing arrived that was not sent.
 *
 * Environment (`k6 run -e NAME=value`), defaults in brackets:
 *   START_RATE [10]                  iterations per TIME_UNIT at the start
 *   STAGES [30s:100,1m:400,1m:400,30s:0]  duration:target-rate pairs
 *   TIME_UNIT [1s]                   the period the rates are per
 *   PRE_ALLOCATED_VUS [50], MAX_VUS [400]
 *   BATCH_SIZE [1]                   events per request
 *   MAX_DROPPED_ITERATIONS [0]       threshold on dropped_iterations
 *   P95_MS [300], P99_MS [800]       publish latency thresholds (ms)
 *   Common to all scripts (load/k6/README.md): BASE_URL [http://localhost:8080], DUP_RATIO [0],
 *   TOPICS [1], PAYLOAD_BYTES [0], MAX_FAILED_RATE [0.001], MAX_THROTTLED_RATE [0.05],
 *   REQUEST_TIMEOUT [10s], RETRY_BUDGET [30s], DRAIN_TIMEOUT [2m], POLL_INTERVAL [500ms],
 *   TEARDOWN_TIMEOUT [10m].
 */
import { envDuration, envInt, envStages, loadTest } from './lib/index.js';

const preAllocatedVUs = envInt('PRE_ALLOCATED_VUS', 50, 1);

const test = loadTest({
  name: 'ramping',
  defaults: { batchSize: 1 },
  scenario: () => ({
    executor: 'ramping-arrival-rate',
    startRate: envInt('START_RATE', 10, 0),
    timeUnit: envDuration('TIME_UNIT', '1s').text,
    stages: envStages('STAGES', '30s:100,1m:400,1m:400,30s:0'),
    preAllocatedVUs,
    maxVUs: envInt('MAX_VUS', Math.max(400, preAllocatedVUs), preAllocatedVUs),
  }),
  thresholds: () => ({ dropped_iterations: [`count<=${envInt('MAX_DROPPED_ITERATIONS', 0)}`] }),
});

export const options = test.options;
export const setup = test.setup;
export default test.iteration;
export const teardown = test.teardown;
