import {
  type BatchJobData,
  type Failpoints,
  type Keys,
  type Metrics,
  publishCounters,
  type Redis,
} from '@aggregator/common';
import type { ApplyOutcome, EventStoreWriter } from '@aggregator/store';
import type { FastPath } from './fastPath.js';
import type { GroupCommitter } from './groupCommit.js';

export interface ProcessDeps {
  store: EventStoreWriter;
  /** Applies jobs to the store, several per transaction when they arrive together. */
  committer: GroupCommitter;
  fastPath: FastPath;
  /** Where the counters are published (the worker's connection). */
  redis: Redis;
  keys: Keys;
  failpoints: Failpoints;
  /** Per-replica metrics; absent in tests that do not look at them. */
  metrics?: Metrics;
}

/**
 * Handles one job: the pure core of the worker.
 *
 * 1. Fast path: claim the pairs in Redis with `SET NX`, learning which job claimed each pair
 *    first (one round trip); nothing is learnt when Redis refuses writes (the store decides).
 * 2. Store: in one transaction (shared with other jobs that arrive at once: group commit),
 *    record the job as applied, count as duplicates the events first claimed by another job that
 *    the store has applied (their rows are stored), insert the others (the primary key decides),
 *    and update the counters.
 * 3. Publish the new totals to the Redis stats hash (one round trip).
 *
 * A crash at any point is safe: before the commit nothing happened, and a claim alone never makes
 * an event skip; after it, the retried job finds itself in `applied_jobs` and only repeats step 3,
 * which is idempotent.
 */
export async function processBatch(deps: ProcessDeps, jobId: string, data: BatchJobData): Promise<ApplyOutcome> {
  const { events } = data;
  const claimedBy = await deps.fastPath.claim(events, jobId);
  deps.failpoints.hit('worker.after-fastpath');

  const endTransaction = deps.metrics?.sqliteTransaction.startTimer();
  const outcome = await deps.committer.apply({ jobId, events, claimedBy });
  endTransaction?.();
  deps.failpoints.hit('worker.after-commit');

  await publishCounters(deps.redis, deps.keys, outcome.counters, outcome.topics);
  deps.failpoints.hit('worker.after-counters');
  if (deps.metrics && outcome.firstApplication) {
    deps.metrics.jobEvents.observe(events.length);
    deps.metrics.eventsProcessed.inc({ outcome: 'inserted' }, outcome.inserted);
    deps.metrics.eventsProcessed.inc({ outcome: 'duplicate' }, outcome.duplicates);
  }
  return outcome;
}
