import { balanceThresholds } from './metrics.js';

/**
 * The thresholds and run options every script shares. Scripts spell out `thresholds:` themselves
 * (calling `publishThresholds`) so that reading one script shows what makes it fail.
 */

/**
 * Pass/fail criteria:
 * - `http_req_failed`: 429 and 503 are marked expected (see sendWithRetry.js), so this counts real
 *   failures only: network errors, timeouts, 4xx rejections, 5xx other than 503.
 * - `http_req_duration{name:publish}` p(95)/p(99): publish requests only, not the teardown's reads.
 * - `publish_gave_up`: a publish that was still refused when RETRY_BUDGET ran out lost events.
 * - `publish_throttled`: share of publish attempts answered 429/503 (backpressure, Redis down).
 * - `counters_verified` and `checks`: the teardown's own checks and the 200 replies' bodies.
 * - `verify_*`: the exact counter checks, as balances of what the VUs sent and the service holds
 *   (metrics.js).
 *
 * @param {import('./types.js').Settings} settings
 * @param {{ [metric: string]: import('k6/options').Threshold[] }} [extra] - script-specific
 *   thresholds; one named like a shared one replaces it
 * @returns {{ [metric: string]: import('k6/options').Threshold[] }}
 */
export function publishThresholds(settings, extra = {}) {
  return {
    http_req_failed: [`rate<${settings.maxFailedRate}`],
    'http_req_duration{name:publish}': [`p(95)<${settings.p95Ms}`, `p(99)<${settings.p99Ms}`],
    publish_gave_up: ['count==0'],
    publish_throttled: [`rate<${settings.maxThrottledRate}`],
    counters_verified: ['rate==1'],
    checks: ['rate==1'],
    ...balanceThresholds,
    ...extra,
  };
}

/**
 * Options besides scenarios and thresholds: room for setup() and teardown() to wait for the
 * queue, and p(99) in the end-of-test summary.
 *
 * @param {import('./types.js').Settings} settings
 */
export function runOptions(settings) {
  return {
    setupTimeout: settings.setupTimeout,
    teardownTimeout: settings.teardownTimeout,
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  };
}
