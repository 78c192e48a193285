import type { ApplyOutcome, BatchJobData, EventStoreWriter, Failpoints, Keys, Metrics } from '@aggregator/common';
import type { FastPath } from './fastPath.js';
import type { GroupCommitter } from './groupCommit.js';

export interface ProcessDeps {
  store: EventStoreWriter;
  /** Applies jobs to the store, several per transaction when they arrive together. */
  committer: GroupCommitter;
  /** The id of the store, read once at start-up; fast-path markers carry it. */
  storeId: string;
  fastPath: FastPath;
  keys: Keys;
  failpoints: Failpoints;
  /** Per-replica metrics; absent in tests that do not look at them. */
  metrics?: Metrics;
}

/**
 * Handles one job: the pure core of the worker.
 *
 * 1. Fast path: claim the pairs in Redis; learn which rows are already committed (one round trip).
 * 2. Store: in one SQLite transaction (shared with other jobs that arrive at once: group commit),
 *    insert the other events (the primary key decides), count duplicates, update the counters, and
 *    record the job as applied.
 * 3. Mark every pair of the job as committed and publish the new totals to the Redis stats hash
 *    (together, one round trip).
 *
 * A crash at any point is safe: before the commit nothing happened; after it, the retried job
 * finds itself in `applied_jobs` and only repeats step 3, which is idempotent.
 */
export async function processBatch(deps: ProcessDeps, jobId: string, data: BatchJobData): Promise<ApplyOutcome> {
  const { events } = data;
  const dedupKeys = deps.fastPath.keysOf(events);
  const known = await deps.fastPath.claim(dedupKeys, jobId, deps.storeId);
  deps.failpoints.hit('worker.after-fastpath');

  const endTransaction = deps.metrics?.sqliteTransaction.startTimer();
  const outcome = await deps.committer.apply({ jobId, events, known });
  endTransaction?.();
  deps.failpoints.hit('worker.after-commit');

  await deps.fastPath.commit(dedupKeys, deps.storeId, outcome.counters, outcome.topics);
  deps.failpoints.hit('worker.after-counters');
  if (deps.metrics && outcome.firstApplication) {
    deps.metrics.jobEvents.observe(events.length);
    deps.metrics.eventsProcessed.inc({ outcome: 'inserted' }, outcome.inserted);
    deps.metrics.eventsProcessed.inc({ outcome: 'duplicate' }, outcome.duplicates);
  }
  return outcome;
}
