import { coerceError, isTransientFailure } from '@aggregator/common';
import { type ApplyOutcome, applyBatch, type BatchToApply, type EventStoreWriter } from '@aggregator/store';

interface Pending extends BatchToApply {
  resolve: (outcome: ApplyOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: the jobs a worker runs at once (`WORKER_CONCURRENCY`) that reach the store in the
 * same turn of the event loop, or while the previous group is still committing, are applied in
 * one transaction, so they share one disk sync (with SQLite's `synchronous = FULL` or PostgreSQL's
 * commit, the sync dominates the cost of a small job) and, on SQLite, one turn of the write lock.
 *
 * Each job's effect is still all or nothing and recorded as applied in that transaction. When the
 * shared transaction fails on a transient store error (busy, connection lost, serialization
 * failure, disk full), every job in it fails and is retried with backoff; on any other error each
 * job is tried again alone, so one job that cannot be applied fails only itself.
 */
export class GroupCommitter {
  #pending: Pending[] = [];
  #scheduled = false;
  #committing = false;

  /**
   * @param onCommitted - called after each transaction that stored new events, with the
   *   `unique_processed` counter after the commit (on SQLite the highest seq; the worker only
   *   takes it as the cue to step the visible head, which says what readers may see)
   */
  constructor(
    private readonly store: EventStoreWriter,
    private readonly onCommitted?: (highestSeq: number) => void,
  ) {}

  apply(batch: BatchToApply): Promise<ApplyOutcome> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ ...batch, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#committing) return;
    this.#scheduled = true;
    setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    const group = this.#pending;
    this.#pending = [];
    this.#committing = true;
    try {
      await this.#commit(group);
    } finally {
      this.#committing = false;
      if (this.#pending.length > 0) this.#schedule();
    }
  }

  async #commit(group: Pending[]): Promise<void> {
    if (group.length === 1) return this.#applyAlone(group[0] as Pending);
    let outcomes: ApplyOutcome[];
    try {
      outcomes = await this.store.applyBatches(group);
    } catch (e: unknown) {
      const error = coerceError(e);
      // A busy lock or a lost connection would fail each job alone too (and with SQLite every try
      // blocks the event loop for up to the busy timeout): fail them together, let backoff retry.
      if (isTransientFailure(error)) {
        for (const item of group) item.reject(error);
        return;
      }
      for (const item of group) await this.#applyAlone(item);
      return;
    }
    this.#announce(outcomes);
    for (const [i, item] of group.entries()) item.resolve(outcomes[i] as ApplyOutcome);
  }

  #announce(outcomes: readonly ApplyOutcome[]): void {
    const last = outcomes[outcomes.length - 1];
    if (!this.onCommitted || !last || !outcomes.some((o) => o.inserted > 0)) return;
    this.onCommitted(last.counters.unique_processed);
  }

  async #applyAlone(item: Pending): Promise<void> {
    try {
      const outcome = await applyBatch(this.store, item.jobId, item.events, item.claimedBy);
      this.#announce([outcome]);
      item.resolve(outcome);
    } catch (e: unknown) {
      item.reject(e);
    }
  }
}
