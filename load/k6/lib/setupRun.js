import { fail } from 'k6';
import http from 'k6/http';
import { countersOf, waitForIdleQueue } from './api.js';
import { allCounters } from './metrics.js';

/**
 * The body of every script's `setup()`: waits until the stack is at rest, reads the baseline
 * counters, and names the run. A backlog left by an earlier run would land in this run's deltas,
 * so setup refuses to start until the queue is idle; a stack without workers would never drain,
 * so it refuses that too.
 *
 * @param {import('./types.js').Settings} settings
 * @returns {import('./types.js').RunData}
 */
export function setupRun(settings) {
  // Zero samples make every counter (and its threshold) show in the summary even when unused.
  for (const counter of allCounters) counter.add(0);

  // A host that does not resolve will not start resolving while the retries wait (in compose:
  // `lb` is not running), so say so at once instead of after RETRY_BUDGET.
  const probe = http.get(`${settings.baseUrl}/stats`, { timeout: settings.requestTimeout, tags: { name: 'stats' } });
  if (probe.error_code >= 1100 && probe.error_code < 1200) {
    fail(
      `BASE_URL ${settings.baseUrl}: ${probe.error}. Is the service running? ` +
        '(With docker compose: start the cluster first, `docker compose up -d`.)',
    );
  }

  const { stats, idle } = waitForIdleQueue(settings);
  if (!idle) {
    fail(
      `the queue is still busy after DRAIN_TIMEOUT (${JSON.stringify(stats.queue)}); ` +
        'wait for the previous load to drain, or raise DRAIN_TIMEOUT',
    );
  }
  if (stats.workers === 0) fail(`GET ${settings.baseUrl}/stats reports no live workers; the queue would never drain`);

  // Time first, so runs sort by start; the random part separates runs started in the same ms.
  const random = Math.floor(Math.random() * 36 ** 4).toString(36);
  const runId = `${Date.now().toString(36)}${random.padStart(4, '0')}`;
  console.info(
    `run ${runId}: events go to topics k6-${runId}-t0…t${settings.topics - 1}; ` +
      `baseline received=${stats.received} unique_processed=${stats.unique_processed} ` +
      `duplicate_dropped=${stats.duplicate_dropped} failed_jobs=${stats.queue.failed}`,
  );
  return { runId, startedAtMs: Date.now(), baseline: countersOf(stats) };
}
