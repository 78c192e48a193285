import { coerceError, type Logger } from '@aggregator/common';
import type { StoreProvider } from '../reading/storeProvider.js';
import type { StreamSubscriber } from './sseStream.js';
import { filterMatches, topicOfEventJson } from './streamFilter.js';

/** Rows the hub reads per query. */
export const HUB_PAGE = 1000;

/**
 * The one reader of new events for every live stream of this replica. On each announcement of a
 * commit (`notify`, coalesced: one read in flight, one more queued) and on a slow safety poll, it
 * reads the store once from its cursor, `listEventsAsJson({ after: cursor })`, paging until caught
 * up, and offers each row to the streams whose filter matches. So the store is read once per
 * announcement, not once per stream.
 *
 * Rows become visible in `seq` order (the store's tailing guarantee), so every row above the cursor
 * is offered exactly once, in order, to every stream live at the time. A stream that joins is
 * offered every matching row above the cursor at the moment it joined (`join`'s result); it
 * covers the rest itself (streamRoute.ts).
 *
 * With no live stream the hub sleeps: no reads, and its cursor is forgotten, to be taken again
 * from the store's counters by the next `join` (the highest `seq`, since seq is gapless).
 */
export class StreamHub {
  readonly #live = new Set<StreamSubscriber>();
  #cursor: number | undefined;
  #starting: Promise<void> | undefined;
  /** Bumped when the hub sleeps, so a read begun before cannot move the new cursor. */
  #epoch = 0;
  #reading = false;
  #again = false;
  #poll: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly store: StoreProvider,
    private readonly pollMs: number,
    private readonly logger: Logger,
  ) {}

  get liveCount(): number {
    return this.#live.size;
  }

  /**
   * The highest `seq` the hub has read and offered to every live stream (undefined while it
   * sleeps). Between two of its reads, a live stream has been offered every event up to it.
   */
  get cursor(): number | undefined {
    return this.#cursor;
  }

  /**
   * Takes the hub's cursor from the store unless it has one.
   *
   * @throws UnavailableError while the store cannot be read
   */
  async start(): Promise<void> {
    while (this.#cursor === undefined) {
      const epoch = this.#epoch;
      this.#starting ??= this.store
        .read((reader) => reader.readHead())
        .then((head) => {
          if (epoch === this.#epoch) this.#cursor = head;
        })
        .finally(() => {
          this.#starting = undefined;
        });
      await this.#starting;
    }
    if (!this.#poll && !this.#closed) {
      this.#poll = setInterval(() => this.notify(), this.pollMs);
      this.#poll.unref();
    }
  }

  /**
   * Makes `subscriber` live; returns the cursor at that moment: `subscriber` is offered every
   * matching row with a higher `seq`, and none below.
   */
  async join(subscriber: StreamSubscriber): Promise<number> {
    // With no live stream the hub has not been reading: its cursor may be far behind, and the
    // first read would fetch everything since. Take a fresh one instead.
    if (this.#live.size === 0) this.#sleep();
    for (;;) {
      await this.start();
      // Synchronously with the check: no read can move the cursor in between.
      if (this.#cursor !== undefined) {
        this.#live.add(subscriber);
        return this.#cursor;
      }
    }
  }

  leave(subscriber: StreamSubscriber): void {
    this.#live.delete(subscriber);
    if (this.#live.size === 0) this.#sleep();
  }

  /**
   * A commit was announced (or the poll fired). `highestSeq`, when known, lets the hub skip a read
   * it has already done (the announcement of a commit it read through another's).
   */
  notify(highestSeq?: number): void {
    if (this.#live.size === 0 || this.#cursor === undefined) return;
    if (highestSeq !== undefined && highestSeq <= this.#cursor) return;
    if (this.#reading) {
      this.#again = true;
      return;
    }
    void this.#read();
  }

  close(): void {
    this.#closed = true;
    this.#live.clear();
    this.#sleep();
  }

  #sleep(): void {
    this.#epoch++;
    this.#cursor = undefined;
    clearInterval(this.#poll);
    this.#poll = undefined;
  }

  async #read(): Promise<void> {
    this.#reading = true;
    const epoch = this.#epoch;
    try {
      do {
        this.#again = false;
        let full: boolean;
        do {
          const after = this.#cursor;
          if (after === undefined || epoch !== this.#epoch) return;
          const rows = await this.store.read((reader) => reader.listEventsAsJson({ after, limit: HUB_PAGE }));
          if (epoch !== this.#epoch) return;
          for (const [seq, json] of rows) {
            this.#cursor = seq;
            const topic = topicOfEventJson(json);
            for (const subscriber of this.#live) {
              if (filterMatches(subscriber.filter, topic)) subscriber.offer(seq, json);
            }
          }
          full = rows.length === HUB_PAGE;
        } while (full);
      } while (this.#again);
    } catch (e: unknown) {
      // The poll tries again; streams stay open meanwhile (their heartbeat goes on).
      this.logger.warn(
        { err: coerceError(e).message },
        'stream hub: reading new events failed; retrying at the next poll',
      );
    } finally {
      this.#reading = false;
      if (this.#again && this.#live.size > 0) {
        this.#again = false;
        void this.#read();
      }
    }
  }
}
