import { ApiError, PublisherClosedError } from './errors.js';
import type { Connection, RetryNotice } from './httpAttempt.js';
import { batchBody, publishBody } from './publishBatch.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retryPolicy.js';
import { HANDLED_ERROR_CODES, type PublishEvent } from './types.js';

/** What finally happened to one event given to `Publisher.publish`. */
export type EventOutcome =
  /** The service acknowledged it: it is durably queued, and will be stored once (or counted as a duplicate). */
  | { status: 'accepted'; event: PublishEvent }
  /** The service refused it (a `4xx`, e.g. `422 validation_failed`): re-sending it as is would fail again. */
  | { status: 'rejected'; event: PublishEvent; error: ApiError }
  /**
   * No acknowledgement: the retry budget ran out, or the publisher was aborted. It may still have
   * reached the service; publishing it again with the same `event_id` is safe.
   */
  | { status: 'failed'; event: PublishEvent; error: unknown };

/** A call of `publish` whose events are in the publisher's buffer. */
export interface Delivery {
  /** One outcome per event, in the order given; never rejects. */
  outcomes: Promise<EventOutcome[]>;
}

export interface PublisherOptions {
  /** Most events in one request (the service's `MAX_BATCH` is 10,000). Default 500. */
  maxBatchEvents?: number;
  /** Most bytes of events in one request (the service's `MAX_BODY_BYTES` is 5 MiB). Default 1 MiB. */
  maxBatchBytes?: number;
  /** Longest an event waits for others to fill its request. Default 5 ms. */
  lingerMs?: number;
  /**
   * Most bytes of events held, queued or in flight. When full, `publish` waits for room: memory
   * stays bounded while the service is slow or down, and nothing is dropped. Default 16 MiB.
   */
  maxBufferedBytes?: number;
  /** Requests in flight at once. Default 2. */
  concurrency?: number;
  /** Retries of each request; `maxRetryMs` defaults to Infinity here: an event is never given up on. */
  retry?: Partial<RetryPolicy>;
  /** Aborting it stops the publisher: every event without an outcome yet fails with the reason. */
  signal?: AbortSignal;
  /** Each event's outcome, as it is known. */
  onOutcome?: (outcome: EventOutcome) => void;
  /** Before each retry of a request. */
  onRetry?: (notice: RetryNotice) => void;
}

interface Entry {
  event: PublishEvent;
  json: string;
  bytes: number;
  settle(outcome: EventOutcome): void;
}

interface RoomWaiter {
  bytes: number;
  grant(): void;
  refuse(reason: unknown): void;
}

/** UTF-8 length of a string, without encoding it. */
function utf8Length(s: string): number {
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) bytes += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  // A surrogate pair is two units of 1 extra byte each: 4 bytes, as UTF-8 takes.
  return bytes;
}

/**
 * Batches events into `POST /publish` requests by count, bytes and linger time, with at most
 * `concurrency` requests in flight, each retried until acknowledged (see `publishBody`).
 *
 * Why nothing is lost: an event leaves the buffer only with an outcome; a request that may have
 * reached the service is re-sent with the same events, whose copies the service drops as
 * duplicates. Backpressure: the bytes held (queued and in flight) never pass `maxBufferedBytes`
 * (one call larger than that is let in alone), so `publish` waits while the service is down.
 */
export class Publisher {
  readonly #connection: Connection;
  readonly #maxBatchEvents: number;
  readonly #maxBatchBytes: number;
  readonly #lingerMs: number;
  readonly #maxBufferedBytes: number;
  readonly #concurrency: number;
  readonly #policy: RetryPolicy;
  readonly #stop = new AbortController();
  readonly #options: PublisherOptions;

  #queue: Entry[] = [];
  #queuedBytes = 0;
  /** Bytes of the events queued or in flight, plus room granted to a call being added. */
  #heldBytes = 0;
  #inFlight = 0;
  #waiters: RoomWaiter[] = [];
  #unsettled = new Set<Promise<EventOutcome>>();
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerDue = false;
  /** Entries queued before a `flush()` are sent without lingering: this many from the queue's head. */
  #flushCount = 0;
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor(connection: Connection, options: PublisherOptions = {}) {
    this.#connection = connection;
    this.#options = options;
    this.#maxBatchEvents = options.maxBatchEvents ?? 500;
    this.#maxBatchBytes = options.maxBatchBytes ?? 1024 * 1024;
    this.#lingerMs = options.lingerMs ?? 5;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 16 * 1024 * 1024;
    this.#concurrency = options.concurrency ?? 2;
    this.#policy = { ...DEFAULT_RETRY_POLICY, maxRetryMs: Number.POSITIVE_INFINITY, ...options.retry };
    for (const [name, value] of Object.entries({
      maxBatchEvents: this.#maxBatchEvents,
      maxBatchBytes: this.#maxBatchBytes,
      maxBufferedBytes: this.#maxBufferedBytes,
      concurrency: this.#concurrency,
    })) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a whole number of at least 1`);
    }
    if (!(this.#lingerMs >= 0)) throw new RangeError('lingerMs must be 0 or more');
    const { signal } = options;
    if (signal) {
      if (signal.aborted) this.#stop.abort(signal.reason);
      else signal.addEventListener('abort', () => this.#abort(signal.reason), { once: true });
    }
  }

  /** Bytes of events held now, queued or in flight. */
  get bufferedBytes(): number {
    return this.#heldBytes;
  }

  /**
   * Puts events into the buffer, waiting while it is full. Resolves once they are in it (from
   * then on they are the publisher's: `signal` only cancels the wait); `outcomes` says what became
   * of each. Rejects with `PublisherClosedError` after `close()`, with `signal`'s reason when it
   * aborts the wait (and then none of the call's events were taken), and with a `TypeError` for a
   * value that cannot be serialised.
   */
  async publish(
    events: PublishEvent | readonly PublishEvent[],
    options: { signal?: AbortSignal } = {},
  ): Promise<Delivery> {
    if (this.#closing || this.#stop.signal.aborted) throw new PublisherClosedError();
    const list: readonly PublishEvent[] = Array.isArray(events) ? events : [events as PublishEvent];
    const serialised = list.map((event) => {
      const json = JSON.stringify(event);
      if (typeof json !== 'string') throw new TypeError('an event must be a JSON object');
      return json;
    });
    const sizes = serialised.map((json) => utf8Length(json) + 1);
    await this.#room(
      sizes.reduce((sum, size) => sum + size, 0),
      options.signal,
    );
    const outcomes = list.map((event, i) => {
      let settle!: (outcome: EventOutcome) => void;
      const outcome = new Promise<EventOutcome>((resolve) => {
        settle = resolve;
      });
      this.#unsettled.add(outcome);
      const entry: Entry = {
        event,
        json: serialised[i] as string,
        bytes: sizes[i] as number,
        settle: (o) => {
          this.#unsettled.delete(outcome);
          settle(o);
          try {
            this.#options.onOutcome?.(o);
          } catch (thrown: unknown) {
            // The caller's bug, surfaced as theirs (an uncaught error), never as a lost or doubly
            // settled event of this publisher.
            queueMicrotask(() => {
              throw thrown;
            });
          }
        },
      };
      this.#queue.push(entry);
      this.#queuedBytes += entry.bytes;
      return outcome;
    });
    this.#pump();
    return { outcomes: Promise.all(outcomes) };
  }

  /** Sends everything buffered now without lingering; resolves when each of those events has an outcome. */
  async flush(): Promise<void> {
    this.#flushCount = this.#queue.length;
    const pending = [...this.#unsettled];
    this.#pump();
    await Promise.all(pending);
  }

  /**
   * Refuses further events, sends everything buffered and resolves when every event has an
   * outcome. Idempotent. To give up on what is left instead, abort the publisher's `signal`.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      // A call still waiting for room has not been taken: it fails, clearly, rather than sneak in.
      for (const waiter of this.#waiters.splice(0)) waiter.refuse(new PublisherClosedError());
      this.#pump();
      while (this.#unsettled.size > 0) await Promise.all([...this.#unsettled]);
      clearTimeout(this.#lingerTimer);
    })();
    return this.#closed;
  }

  #room(bytes: number, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#heldBytes += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: RoomWaiter = {
        bytes,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#heldBytes += bytes;
          resolve();
        },
        refuse: (reason) => {
          signal?.removeEventListener('abort', onAbort);
          reject(reason);
        },
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal?.reason);
        this.#wake();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #fits(bytes: number): boolean {
    if (this.#stop.signal.aborted) return false;
    return this.#heldBytes === 0 || this.#heldBytes + bytes <= this.#maxBufferedBytes;
  }

  #release(bytes: number): void {
    this.#heldBytes -= bytes;
    this.#wake();
  }

  /** Grants room to waiting calls in arrival order, as far as it goes. */
  #wake(): void {
    for (;;) {
      const first = this.#waiters[0];
      if (!first || !this.#fits(first.bytes)) return;
      this.#waiters.shift();
      first.grant();
    }
  }

  /** Starts requests while a slot is free and a batch is ready; arms the linger timer otherwise. */
  #pump(): void {
    while (this.#inFlight < this.#concurrency && this.#queue.length > 0 && !this.#stop.signal.aborted) {
      const ready =
        this.#queue.length >= this.#maxBatchEvents ||
        this.#queuedBytes >= this.#maxBatchBytes ||
        this.#lingerDue ||
        this.#flushCount > 0 ||
        this.#closing ||
        this.#lingerMs === 0;
      if (!ready) {
        this.#lingerTimer ??= setTimeout(() => {
          this.#lingerTimer = undefined;
          this.#lingerDue = true;
          this.#pump();
        }, this.#lingerMs);
        return;
      }
      const batch = this.#takeBatch();
      void this.#send(batch);
    }
  }

  #takeBatch(): Entry[] {
    let bytes = 0;
    let count = 0;
    for (const entry of this.#queue) {
      if (count >= this.#maxBatchEvents || (count > 0 && bytes + entry.bytes > this.#maxBatchBytes)) break;
      bytes += entry.bytes;
      count++;
    }
    const batch = this.#queue.splice(0, count);
    this.#queuedBytes -= bytes;
    this.#flushCount = Math.max(0, this.#flushCount - count);
    if (this.#queue.length === 0) {
      this.#lingerDue = false;
      clearTimeout(this.#lingerTimer);
      this.#lingerTimer = undefined;
    }
    return batch;
  }

  /**
   * Sends one batch until every event in it has an outcome. A `422` names the invalid events:
   * they are rejected and the rest re-sent (validation is all or nothing per request). A `413`
   * splits the batch in two.
   */
  async #send(batch: Entry[]): Promise<void> {
    this.#inFlight++;
    const work: Entry[][] = [batch];
    try {
      for (let part = work.shift(); part; part = work.shift()) {
        try {
          await publishBody(this.#connection, batchBody(part.map((e) => e.json)), part.length, {
            policy: this.#policy,
            signal: this.#stop.signal,
            onRetry: this.#options.onRetry,
          });
          for (const entry of part) this.#settle(entry, { status: 'accepted', event: entry.event });
        } catch (thrown: unknown) {
          if (thrown instanceof ApiError && thrown.status === 413 && part.length > 1) {
            const half = Math.ceil(part.length / 2);
            work.unshift(part.slice(0, half), part.slice(half));
            continue;
          }
          const invalid = thrown instanceof ApiError ? invalidIndexes(thrown, part.length) : undefined;
          if (thrown instanceof ApiError && invalid && invalid.size > 0) {
            const rest = part.filter((entry, i) => {
              if (!invalid.has(i)) return true;
              this.#settle(entry, { status: 'rejected', event: entry.event, error: issuesOf(thrown, i) });
              return false;
            });
            if (rest.length > 0) work.unshift(rest);
            continue;
          }
          for (const entry of part) {
            this.#settle(
              entry,
              thrown instanceof ApiError
                ? { status: 'rejected', event: entry.event, error: thrown }
                : { status: 'failed', event: entry.event, error: thrown },
            );
          }
        }
      }
    } finally {
      this.#inFlight--;
      this.#pump();
    }
  }

  #settle(entry: Entry, outcome: EventOutcome): void {
    entry.settle(outcome);
    this.#release(entry.bytes);
  }

  #abort(reason: unknown): void {
    this.#stop.abort(reason);
    clearTimeout(this.#lingerTimer);
    // Waiting calls first: the room the failed entries free must not let them in.
    for (const waiter of this.#waiters.splice(0)) waiter.refuse(new PublisherClosedError());
    for (const entry of this.#queue.splice(0)) {
      this.#settle(entry, { status: 'failed', event: entry.event, error: reason });
    }
    this.#queuedBytes = 0;
  }
}

/** The batch positions a `422 validation_failed` names, when it names any. */
function invalidIndexes(error: ApiError, size: number): Set<number> | undefined {
  if (error.status !== 422 || error.code !== HANDLED_ERROR_CODES.validationFailed || !Array.isArray(error.details))
    return undefined;
  const indexes = new Set<number>();
  for (const issue of error.details as Array<{ index?: unknown }>) {
    if (typeof issue.index === 'number' && Number.isInteger(issue.index) && issue.index >= 0 && issue.index < size) {
      indexes.add(issue.index);
    }
  }
  return indexes;
}

/** The `422` of one event of a batch: the issues about it, at index 0. */
function issuesOf(error: ApiError, index: number): ApiError {
  const issues = (error.details as Array<{ index?: unknown }>)
    .filter((issue) => issue.index === index)
    .map((issue) => ({ ...issue, index: 0 }));
  return new ApiError(error.status, error.code, 'the event is invalid; it was not accepted', issues);
}
