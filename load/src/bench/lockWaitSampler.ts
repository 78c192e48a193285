import pg from 'pg';

/** How often pg_stat_activity is sampled: cheap enough (one catalog read) not to move the figures. */
const SAMPLE_MS = 10;

/** What a sampler saw: the writers' transaction time, and the part of it spent waiting on a lock. */
export interface LockWaitShare {
  /** Samples × writer transactions in them (one unit per writer per sample). */
  samples: number;
  /** Of those, the ones with `wait_event_type = 'Lock'`. */
  lockWaits: number;
  /** lockWaits / samples (0 when no sample saw a writer). */
  share: number;
  /** Lock waits by the waiting statement's first 40 characters (whitespace folded): who waits where. */
  byStatement: Record<string, number>;
}

/**
 * Samples `pg_stat_activity` every SAMPLE_MS while a mode runs: each backend of the service
 * (`application_name = 'aggregator'`) inside a writing transaction (it holds an xid, or is waiting
 * on a lock: readers never do) counts one unit of writer transaction time, and one unit of lock
 * waiting when `wait_event_type = 'Lock'` (a row, a transaction, an advisory lock). Sampled time
 * shares, not exact ones: noise of a few percent on a short run.
 */
export async function startLockWaitSampler(url: string): Promise<{ stop(): Promise<LockWaitShare> }> {
  const client = new pg.Client({ connectionString: url, application_name: 'aggregator-bench' });
  await client.connect();
  let samples = 0;
  let lockWaits = 0;
  const byStatement: Record<string, number> = {};
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await client.query<{ waiting: boolean; statement: string }>(`
        SELECT wait_event_type = 'Lock' AS waiting, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 40) AS statement
        FROM pg_stat_activity
        WHERE application_name = 'aggregator' AND (backend_xid IS NOT NULL OR wait_event_type = 'Lock')`);
      samples += rows.length;
      for (const { waiting, statement } of rows) {
        if (!waiting) continue;
        lockWaits++;
        byStatement[statement] = (byStatement[statement] ?? 0) + 1;
      }
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop.finally(() => client.end());
      const share = samples === 0 ? 0 : Number((lockWaits / samples).toFixed(3));
      return { samples, lockWaits, share, byStatement };
    },
  };
}
