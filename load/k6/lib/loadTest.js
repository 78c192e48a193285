import { publishThresholds, runOptions } from './options.js';
import { publishIteration } from './publishIteration.js';
import { readSettings } from './settings.js';
import { setupRun } from './setupRun.js';
import { verifyRun } from './verifyRun.js';

/**
 * The block every script shares: one scenario (the only thing the scripts differ in, with their
 * defaults), the shared thresholds, and the same life cycle: `setup` takes the baseline counters
 * and the run's topics (setupRun.js), each iteration publishes one request (publishIteration.js),
 * and `teardown` waits for the queue and checks the counters exactly (verifyRun.js).
 *
 * A script re-exports what this returns under k6's names:
 *
 *     const test = loadTest({ name: 'batch', defaults: { batchSize: 100 }, scenario: () => ({ … }) });
 *     export const options = test.options;
 *     export const setup = test.setup;
 *     export default test.iteration;
 *     export const teardown = test.teardown;
 *
 * @param {object} spec
 * @param {string} spec.name - the scenario's name in k6's output
 * @param {import('./types.js').SettingDefaults} [spec.defaults] - the script's own defaults
 * @param {(settings: import('./types.js').Settings) => import('k6/options').Scenario} spec.scenario -
 *   the executor and its rates; `gracefulStop` is added here, so an iteration still retrying when
 *   the scenario ends may finish
 * @param {(settings: import('./types.js').Settings) => { [metric: string]: import('k6/options').Threshold[] }} [spec.thresholds] -
 *   script-specific thresholds; one named like a shared one replaces it
 */
export function loadTest({ name, defaults = {}, scenario, thresholds }) {
  const settings = readSettings(defaults);
  /** @type {import('k6/options').Options} */
  const options = {
    scenarios: { [name]: { ...scenario(settings), gracefulStop: settings.gracefulStop } },
    thresholds: publishThresholds(settings, thresholds?.(settings)),
    ...runOptions(settings),
  };
  return {
    settings,
    options,
    setup: () => setupRun(settings),
    /** @param {import('./types.js').RunData} run */
    iteration: (run) => publishIteration(settings, run),
    /** @param {import('./types.js').RunData} run */
    teardown: (run) => verifyRun(settings, run),
  };
}
