/**
 * What the scripts in load/k6 share. Each script imports from here only; see loadTest.js for the
 * block every script is made of, verifyRun.js for how the teardown checks the counters and
 * types.js for the glossary.
 */
export { envDuration, envInt, envStages } from './env.js';
export { loadTest } from './loadTest.js';
export { sharedIterations } from './scenarios.js';
