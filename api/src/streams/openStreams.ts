import type { Config, Metrics } from '@aggregator/common';
import { UnavailableError } from '../http/appErrors.js';
import type { SseStream } from './sseStream.js';
import { StreamBudget } from './streamBudget.js';

/** What bounds the streams of one replica besides their number. */
export interface StreamLimits {
  /** Most streams one client (address) may hold on this replica (MAX_STREAMS_PER_CLIENT); 0: no limit. */
  perClient?: number;
  /** What all streams may have waiting for their clients together (STREAMS_BUFFER_BUDGET_BYTES). */
  budget?: StreamBudget;
}

/** A slot taken for one stream: `release` gives it back if the stream never opens. */
export interface StreamSlot {
  readonly client: string;
  release(): void;
}

/**
 * The streams open on this replica: counted against `MAX_STREAMS` and `MAX_STREAMS_PER_CLIENT`,
 * refused while the replica's stream buffer budget is spent, shown as a gauge, and ended together
 * at shutdown (before the server drains, so clients reconnect to another replica at once instead
 * of waiting on a replica that is going).
 */
export class OpenStreams {
  readonly #open = new Set<SseStream>();
  /** Slots reserved by requests still opening their stream (waiting on the store). */
  #reserved = 0;
  /** Streams and reservations of each client. */
  readonly #perClient = new Map<string, number>();
  /** How `add` takes over each slot still outstanding (and learns whether it was). */
  readonly #takers = new WeakMap<StreamSlot, () => boolean>();
  #closing = false;

  constructor(
    private readonly maxStreams: number,
    private readonly metrics: Metrics,
    private readonly limits: StreamLimits = {},
  ) {}

  /**
   * Reserves a slot for one more stream of `client`, at once, so that requests opening streams
   * concurrently cannot together pass a limit. The slot's `release` is for a request that ends
   * before its stream opens; `add` takes the slot over.
   *
   * @throws UnavailableError (503 `too_many_streams` with `Retry-After`, or `shutting_down`) when it may not
   */
  reserve(client = ''): StreamSlot {
    if (this.#closing) throw new UnavailableError('shutting_down', 'this replica is shutting down; reconnect');
    if (this.#open.size + this.#reserved >= this.maxStreams) {
      throw tooMany(
        `this replica holds its maximum of ${this.maxStreams} streams (MAX_STREAMS); retry, another replica may have room`,
      );
    }
    const { perClient = 0, budget } = this.limits;
    const held = this.#perClient.get(client) ?? 0;
    if (perClient > 0 && held >= perClient) {
      throw tooMany(`this client holds its maximum of ${perClient} streams on this replica (MAX_STREAMS_PER_CLIENT)`);
    }
    if (budget?.spent) {
      throw tooMany(
        `this replica's streams have ${budget.used} bytes waiting for slow clients, its budget of ${budget.limitBytes} ` +
          '(STREAMS_BUFFER_BUDGET_BYTES); retry, another replica may have room',
      );
    }
    this.#reserved++;
    this.#perClient.set(client, held + 1);
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      this.#reserved--;
      return true;
    };
    const slot: StreamSlot = {
      client,
      release: () => {
        if (settle()) this.#leave(client);
      },
    };
    this.#takers.set(slot, settle);
    return slot;
  }

  /** Counts `stream` in place of its slot; one that opens after `close` began is ended at once. */
  add(stream: SseStream, slot: StreamSlot): void {
    // The client's count now lasts as long as the stream: given back when it closes.
    if (this.#takers.get(slot)?.()) void stream.closed.then(() => this.#leave(slot.client));
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

  /** The replica's budget for what streams have waiting, which each stream reports to. */
  get budget(): StreamBudget | undefined {
    return this.limits.budget;
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

  #leave(client: string): void {
    const held = (this.#perClient.get(client) ?? 1) - 1;
    if (held > 0) this.#perClient.set(client, held);
    else this.#perClient.delete(client);
  }

  #endForShutdown(stream: SseStream): void {
    stream.end('shutting_down', 'this replica is shutting down; reconnect with Last-Event-ID to resume elsewhere');
    this.metrics.streamsCut.inc({ reason: 'shutting_down' });
  }
}

function tooMany(message: string): UnavailableError {
  return new UnavailableError('too_many_streams', message, { retryAfterSeconds: 5 });
}

/** The streams of one API replica with the limits its configuration sets (main.ts and the tests). */
export function openStreamsOf(
  config: Pick<Config, 'MAX_STREAMS' | 'MAX_STREAMS_PER_CLIENT' | 'STREAMS_BUFFER_BUDGET_BYTES'>,
  metrics: Metrics,
): OpenStreams {
  return new OpenStreams(config.MAX_STREAMS, metrics, {
    perClient: config.MAX_STREAMS_PER_CLIENT,
    budget: new StreamBudget(config.STREAMS_BUFFER_BUDGET_BYTES),
  });
}
