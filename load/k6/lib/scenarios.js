import { envDuration, envInt } from './env.js';

/**
 * k6 `shared-iterations`, as single.js, batch.js and duplicates.js run it: VUS virtual users
 * share ITERATIONS iterations, stopped after MAX_DURATION [10m] even if some remain.
 *
 * @param {{ vus: number, iterations: number }} defaults - the script's defaults for VUS and ITERATIONS
 * @returns {() => import('k6/options').Scenario}
 */
export function sharedIterations(defaults) {
  return () => ({
    executor: 'shared-iterations',
    vus: envInt('VUS', defaults.vus, 1),
    iterations: envInt('ITERATIONS', defaults.iterations, 1),
    maxDuration: envDuration('MAX_DURATION', '10m').text,
  });
}
