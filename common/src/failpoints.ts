/**
 * Named crash points for tests of crash consistency. Enabled only through
 * `AGGREGATOR_FAILPOINTS`, e.g. `worker.after-commit:exit` or `worker.after-fastpath:exit@3` (die at
 * the third hit). A hit of an enabled point kills the process with SIGKILL: no cleanup, no flush,
 * exactly like a crash. With the variable unset every `hit` is a no-op function call.
 */
export const FAILPOINT_NAMES = [
  /** Worker: after the fast-path claim, before the store's transaction. */
  'worker.after-fastpath',
  /** Worker: after the store's commit, before the fast-path commit marks and the counters. */
  'worker.after-commit',
  /** Worker: after the counters are published, before the job is acknowledged. */
  'worker.after-counters',
  /** API: after the events are in the queue, before the reply is sent. */
  'api.after-enqueue',
] as const;

export type FailpointName = (typeof FAILPOINT_NAMES)[number];

export interface Failpoints {
  hit(name: FailpointName): void;
}

const NONE: Failpoints = { hit() {} };

/**
 * Parses a comma-separated list of `name:exit[@N]`.
 * @throws Error naming the bad entry
 */
export function parseFailpoints(spec: string | undefined): Failpoints {
  if (!spec) return NONE;
  const remaining = new Map<string, number>();
  for (const entry of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = /^([\w.-]+):exit(?:@(\d+))?$/.exec(entry);
    const name = match?.[1];
    if (!match || !name || !(FAILPOINT_NAMES as readonly string[]).includes(name)) {
      throw new Error(`bad failpoint "${entry}": use <name>:exit[@N] with a name from ${FAILPOINT_NAMES.join(', ')}`);
    }
    remaining.set(name, Number(match[2] ?? 1));
  }
  return {
    hit(name) {
      const left = remaining.get(name);
      if (left === undefined) return;
      if (left > 1) {
        remaining.set(name, left - 1);
        return;
      }
      process.kill(process.pid, 'SIGKILL');
    },
  };
}
