/**
 * What the scripts in load/k6 share. Each script imports from here only; see verifyRun.js for how
 * the teardown checks the counters and types.js for the glossary.
 */
export { envDuration, envInt, envStages } from './env.js';
export { publishThresholds, runOptions } from './options.js';
export { publishIteration } from './publishIteration.js';
export { readSettings } from './settings.js';
export { setupRun } from './setupRun.js';
export { verifyRun } from './verifyRun.js';
