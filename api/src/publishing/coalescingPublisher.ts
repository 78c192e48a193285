import type { Event } from '@aggregator/common';
import type { Publisher } from './batchPublisher.js';

interface Waiting {
  events: readonly Event[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface CoalescingOptions {
  /** Flushes under way at once; requests arriving meanwhile wait and go together in the next one. */
  maxInFlight: number;
  /** Extra time to wait for more requests before a flush (0: flush on the next turn of the loop). */
  lingerMs: number;
  /** Events per flush (one job); flush at once when this many are waiting. A larger request goes alone. */
  maxEvents: number;
}

/**
 * Coalesces concurrent publish requests into one enqueue, like a producer's linger: requests that
 * arrive while a flush is under way (or within `lingerMs`) are enqueued together (one job per
 * queue partition they touch, each one atomic Redis script), so under load the queue sees a few
 * large jobs instead of one per request. Nothing is acknowledged before it is in Redis: every
 * request's promise settles with the flush that carried it, and a failed flush fails every request
 * in it. A request's events are never split across flushes; with QUEUE_PARTITIONS > 1 they are
 * split across the partitions' jobs, and a request is acknowledged only when every part is in.
 *
 * At low load this adds no latency: a lone request is flushed on the next turn of the event loop.
 */
export class CoalescingPublisher implements Publisher {
  #waiting: Waiting[] = [];
  #waitingEvents = 0;
  #inFlight = 0;
  #scheduled = false;

  constructor(
    private readonly inner: Publisher,
    private readonly options: CoalescingOptions,
  ) {}

  publish(events: readonly Event[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ events, resolve, reject });
      this.#waitingEvents += events.length;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#inFlight >= this.options.maxInFlight) return; // the flush that ends will pick them up
    if (this.#waitingEvents >= this.options.maxEvents) {
      this.#flush();
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      if (this.#inFlight < this.options.maxInFlight) this.#flush();
    };
    if (this.options.lingerMs > 0) setTimeout(run, this.options.lingerMs);
    else setImmediate(run);
  }

  #flush(): void {
    if (this.#waiting.length === 0) return;
    // Whole requests up to one job's worth (a larger request goes alone): one flush, one job.
    let take = 0;
    let events = 0;
    while (take < this.#waiting.length) {
      const next = (this.#waiting[take] as Waiting).events.length;
      if (take > 0 && events + next > this.options.maxEvents) break;
      events += next;
      take++;
    }
    const batch = this.#waiting.splice(0, take);
    this.#waitingEvents -= events;
    this.#inFlight++;
    this.inner
      .publish(batch.length === 1 ? (batch[0] as Waiting).events : batch.flatMap((w) => w.events))
      .then(
        () => {
          for (const w of batch) w.resolve();
        },
        (error: unknown) => {
          for (const w of batch) w.reject(error);
        },
      )
      .finally(() => {
        this.#inFlight--;
        if (this.#waiting.length > 0) this.#schedule();
      });
  }
}
