import { liveChildren, type ManagedChild } from '@aggregator/load';

/**
 * Fails `test` when it left a child process running (other than `allowed`), after killing them:
 * every fixture must stop what it started, even when the test fails.
 */
export async function failOnLeakedChildren(test: Mocha.Runnable | undefined, allowed?: ManagedChild): Promise<void> {
  const leaked = [...liveChildren()].filter((c) => c !== allowed);
  if (leaked.length === 0) return;
  await Promise.all(leaked.map((c) => c.kill()));
  throw new Error(`child processes leaked by "${test?.fullTitle()}": ${leaked.map((c) => c.name).join(', ')}`);
}
