/**
 * Named crash points for tests of crash consistency. Enabled only through
 * `AGGREGATOR_FAILPOINTS`, e.g. `worker.after-commit:exit` or `worker.after-fastpath:exit@3` (die at
 * the third hit). A hit of an enabled `exit` point kills the process with SIGKILL: no cleanup, no
 * flush, exactly like a crash. A `stop` point freezes it with SIGSTOP instead, connections open,
 * exactly like a stalled host, until someone sends SIGCONT. With the variable unset every `hit` is
 * a no-op function call.
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
  /** Store (PostgreSQL): inside a group commit's transaction, after its last statement, before COMMIT. */
  'store.before-commit',
] as const;

export type FailpointName = (typeof FAILPOINT_NAMES)[number];

export interface Failpoints {
  hit(name: FailpointName): void;
}

const NONE: Failpoints = { hit() {} };

/**
 * Parses a comma-separated list of `name:exit[@N]` or `name:stop[@N]`.
 * @throws Error naming the bad entry
 */
export function parseFailpoints(spec: string | undefined): Failpoints {
  if (!spec) return NONE;
  const remaining = new Map<string, { left: number; signal: 'SIGKILL' | 'SIGSTOP' }>();
  for (const entry of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = /^([\w.-]+):(exit|stop)(?:@(\d+))?$/.exec(entry);
    const name = match?.[1];
    if (!match || !name || !(FAILPOINT_NAMES as readonly string[]).includes(name)) {
      throw new Error(
        `bad failpoint "${entry}": use <name>:exit[@N] or <name>:stop[@N] with a name from ${FAILPOINT_NAMES.join(', ')}`,
      );
    }
    remaining.set(name, { left: Number(match[3] ?? 1), signal: match[2] === 'stop' ? 'SIGSTOP' : 'SIGKILL' });
  }
  return {
    hit(name) {
      const point = remaining.get(name);
      if (point === undefined) return;
      if (point.left > 1) {
        point.left--;
        return;
      }
      // A stop point fires once: woken up, the process goes on as a stalled host would.
      remaining.delete(name);
      process.kill(process.pid, point.signal);
    },
  };
}
