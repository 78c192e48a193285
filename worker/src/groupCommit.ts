import { type ApplyOutcome, type BatchToApply, coerceError, type EventStoreWriter } from '@aggregator/common';

function isTransientStoreError(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|FULL|IOERR)/.test(code);
}

interface Pending extends BatchToApply {
  resolve: (outcome: ApplyOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: the jobs a worker runs at once (`WORKER_CONCURRENCY`) that reach the store in the
 * same turn of the event loop are applied in one SQLite transaction, so they share one disk sync
 * (with `synchronous = FULL` the sync dominates the cost of a small job).
 *
 * Each job's effect is still all or nothing and recorded as applied in that transaction. When the
 * shared transaction fails on a transient store error (busy, disk full), every job in it fails and
 * is retried with backoff; on any other error each job is tried again alone, so one job that
 * cannot be applied fails only itself.
 */
export class GroupCommitter {
  #pending: Pending[] = [];
  #scheduled = false;

  constructor(private readonly store: EventStoreWriter) {}

  apply(batch: BatchToApply): Promise<ApplyOutcome> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ ...batch, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const group = this.#pending;
    this.#pending = [];
    if (group.length === 1) {
      this.#applyAlone(group[0] as Pending);
      return;
    }
    let outcomes: ApplyOutcome[];
    try {
      outcomes = this.store.applyBatches(group);
    } catch (e: unknown) {
      const error = coerceError(e);
      // A busy lock or a full disk would fail each job alone too, and every try blocks the event
      // loop for up to the busy timeout: fail them together and let backoff retry them.
      if (isTransientStoreError(error)) {
        for (const item of group) item.reject(error);
        return;
      }
      for (const item of group) this.#applyAlone(item);
      return;
    }
    for (const [i, item] of group.entries()) item.resolve(outcomes[i] as ApplyOutcome);
  }

  #applyAlone(item: Pending): void {
    try {
      item.resolve(this.store.applyBatch(item.jobId, item.events, item.claimedBy));
    } catch (e: unknown) {
      item.reject(e);
    }
  }
}
