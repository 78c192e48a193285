import { envBaseUrl, envDuration, envInt, envNumber } from './env.js';
import { RATIO_SCALE } from './slots.js';

/**
 * Reads the settings every script shares (see the table in load/k6/README.md). A script passes
 * its own defaults for the few that differ, e.g. `batch.js` a larger BATCH_SIZE.
 *
 * @param {import('./types.js').SettingDefaults} [defaults]
 * @returns {import('./types.js').Settings}
 */
export function readSettings(defaults = {}) {
  const dupRatio = envNumber('DUP_RATIO', defaults.dupRatio ?? 0, 0, 0.9);
  const requestTimeout = envDuration('REQUEST_TIMEOUT', '10s');
  const retryBudget = envDuration('RETRY_BUDGET', '30s');
  const drainTimeout = envDuration('DRAIN_TIMEOUT', '2m');
  const teardownTimeout = envDuration('TEARDOWN_TIMEOUT', '10m');
  if (teardownTimeout.ms <= drainTimeout.ms) {
    throw new Error(
      `TEARDOWN_TIMEOUT (${teardownTimeout.text}) must be longer than DRAIN_TIMEOUT (${drainTimeout.text})`,
    );
  }
  // An iteration still retrying when the scenario ends must be allowed to finish: an interrupted
  // iteration leaves its events unaccounted for, and the teardown can then only check invariants.
  // Worst case: the publish and one ledger entry, each retrying for RETRY_BUDGET plus a last
  // attempt of REQUEST_TIMEOUT.
  const gracefulStopS = Math.ceil((2 * (retryBudget.ms + requestTimeout.ms)) / 1000) + 5;
  return Object.freeze({
    baseUrl: envBaseUrl(),
    batchSize: defaults.batchSizeFixed
      ? (defaults.batchSize ?? 1)
      : envInt('BATCH_SIZE', defaults.batchSize ?? 1, 1, 10000),
    dupRatio,
    dupScaled: Math.round(dupRatio * RATIO_SCALE),
    topics: envInt('TOPICS', 1, 1, 1000),
    payloadBytes: envInt('PAYLOAD_BYTES', 0, 0, 1000000),
    requestTimeout: requestTimeout.text,
    retryBudgetMs: retryBudget.ms,
    drainTimeoutMs: drainTimeout.ms,
    pollMs: envDuration('POLL_INTERVAL', '500ms').ms,
    setupTimeout: `${Math.ceil(drainTimeout.ms / 1000) + 60}s`,
    teardownTimeout: teardownTimeout.text,
    gracefulStop: `${gracefulStopS}s`,
    p95Ms: envNumber('P95_MS', defaults.p95Ms ?? 300, 1, 3600000),
    p99Ms: envNumber('P99_MS', defaults.p99Ms ?? 800, 1, 3600000),
    maxFailedRate: envNumber('MAX_FAILED_RATE', 0.001, 0, 1),
    maxThrottledRate: envNumber('MAX_THROTTLED_RATE', 0.05, 0, 1),
  });
}
