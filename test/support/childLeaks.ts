import { liveChildren, type ManagedChild } from '@aggregator/stack';

/**
 * Fails `test` when it left a child process running (other than the `allowed` shared servers), after killing them:
 * every fixture must stop what it started, even when the test fails.
 */
export async function failOnLeakedChildren(
  test: Mocha.Runnable | undefined,
  ...allowed: Array<ManagedChild | undefined>
): Promise<void> {
  const leaked = [...liveChildren()].filter((c) => !allowed.includes(c));
  if (leaked.length === 0) return;
  await Promise.all(leaked.map((c) => c.kill()));
  throw new Error(`child processes leaked by "${test?.fullTitle()}": ${leaked.map((c) => c.name).join(', ')}`);
}
