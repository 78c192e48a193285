import { type Metrics, UnavailableError } from '@aggregator/common';
import type { SseStream } from './sseStream.js';

/**
 * The streams open on this replica: counted against `MAX_STREAMS`, shown as a gauge, and ended
 * together at shutdown (before the server drains, so clients reconnect to another replica at once
 * instead of waiting on a replica that is going).
 */
export class OpenStreams {
  readonly #open = new Set<SseStream>();
  /** Slots reserved by requests still opening their stream (waiting on the store). */
  #reserved = 0;
  #closing = false;

  constructor(
    private readonly maxStreams: number,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Reserves a slot for one more stream, at once, so that requests opening streams concurrently
   * cannot together pass `MAX_STREAMS`. Returns its release, for a request that ends before its
   * stream opens; `add` takes the slot over.
   *
   * @throws UnavailableError (503 `too_many_streams`, or `shutting_down`) when it may not
   */
  reserve(): () => void {
    if (this.#closing) throw new UnavailableError('shutting_down', 'this replica is shutting down; reconnect');
    if (this.#open.size + this.#reserved >= this.maxStreams) {
      throw new UnavailableError(
        'too_many_streams',
        `this replica holds its maximum of ${this.maxStreams} streams (MAX_STREAMS); retry, another replica may have room`,
        { retryAfterSeconds: 5 },
      );
    }
    this.#reserved++;
    let released = false;
    return () => {
      if (!released) this.#reserved--;
      released = true;
    };
  }

  /** Counts `stream` in place of its reservation; one that opens after `close` began is ended at once. */
  add(stream: SseStream, reservation: () => void): void {
    reservation();
    if (this.#closing) {
      this.#endForShutdown(stream);
      return;
    }
    this.#open.add(stream);
    this.metrics.streamsOpen.set(this.#open.size);
    void stream.closed.then(() => {
      this.#open.delete(stream);
      this.metrics.streamsOpen.set(this.#open.size);
    });
  }

  get size(): number {
    return this.#open.size;
  }

  /** Ends every stream with a final `shutting_down` message and waits until their connections close. */
  async close(): Promise<void> {
    this.#closing = true;
    const streams = [...this.#open];
    for (const stream of streams) this.#endForShutdown(stream);
    await Promise.all(streams.map((s) => s.closed));
  }

  #endForShutdown(stream: SseStream): void {
    stream.end('shutting_down', 'this replica is shutting down; reconnect with Last-Event-ID to resume elsewhere');
    this.metrics.streamsCut.inc({ reason: 'shutting_down' });
  }
}
