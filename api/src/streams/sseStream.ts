import type { ServerResponse } from 'node:http';
import type { EventJsonRow } from '@aggregator/store';
import type { TopicFilter } from '../apiSchemas.js';
import { errorEnvelope } from '../http/errorEnvelope.js';
import type { StreamBudget } from './streamBudget.js';

/** How one stream behaves (from the configuration). */
export interface SseOptions {
  /** Bytes the stream may have waiting for its client before it is cut off (STREAM_BUFFER_BYTES). */
  bufferBytes: number;
  /** Interval of the heartbeat comment (STREAM_HEARTBEAT_MS). */
  heartbeatMs: number;
  /** The reconnection delay suggested to the client (`retry:`). */
  retryMs: number;
  /** The replica's budget for what all streams have waiting (STREAMS_BUFFER_BUDGET_BYTES). */
  budget?: StreamBudget;
}

/** Why a stream was cut for its client's slowness: its own bound, or the replica's budget. */
export type FellBehindReason = 'fell_behind' | 'buffer_budget';

/** Why the server ends a stream; the code of its final `event: error` message. */
export type StreamEndCode = 'stream_fell_behind' | 'shutting_down' | 'store_unavailable';

/** What the hub hands new events to (see streamHub.ts). */
export interface StreamSubscriber {
  readonly filter: TopicFilter;
  /** A new event with a higher `seq` than every one offered before, matching `filter`. */
  offer(seq: number, json: string): void;
}

// A catching-up stream waits for its client once this much is unsent, before reading more.
const CATCH_UP_HIGH_WATER = 64 * 1024;
// A client that stopped reading gets this long to take its final message before the socket goes.
const FINAL_MESSAGE_GRACE_MS = 5000;

/**
 * One `GET /events/stream` response: Server-Sent Events framing (`id: <seq>`, `data: <event JSON>`),
 * the heartbeat, and the bound on what may wait for the client.
 *
 * A stream first catches up (its route pages the store and `deliver`s with `flush`), then goes
 * live: the hub `offer`s each new event. Between the two, events offered while the last page is
 * read are held (`holdOffers`) and written by `goLive`, so nothing falls between the pages and
 * the hub, and `lastSeq` drops the overlap: an event is written at most once, in `seq` order.
 */
export class SseStream implements StreamSubscriber {
  /** The highest `seq` written to the client (its Last-Event-ID). */
  lastSeq: number;
  /** Resolves when the connection is gone, whoever ended it. */
  readonly closed: Promise<void>;
  #held: EventJsonRow[] | undefined;
  #heldBytes = 0;
  #heldOverflow = false;
  #live = false;
  #ended = false;
  #corked = false;
  #overBound = false;
  /** The backlog last reported to the budget. */
  #accounted = 0;
  #heartbeat: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    readonly filter: TopicFilter,
    after: number,
    private readonly options: SseOptions,
    private readonly onDelivered: (count: number) => void,
    private readonly onFellBehind: (reason: FellBehindReason) => void,
    /** How far the hub has offered every live stream every event (its cursor). */
    private readonly offeredUpTo: () => number | undefined = () => undefined,
  ) {
    this.lastSeq = after;
    this.closed = new Promise((resolve) => {
      res.once('close', () => {
        this.#ended = true;
        clearInterval(this.#heartbeat);
        // The socket and what waited in it are gone.
        this.options.budget?.account(this.#accounted, 0);
        this.#accounted = 0;
        resolve();
      });
    });
    res.on('drain', () => this.#report());
    // A write that races the connection's end fails on the response; 'close' follows and ends the stream.
    res.on('error', () => {});
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // nginx and similar proxies: pass each message on at once.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${options.retryMs}\n: stream open after ${after}\n\n`);
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Writes one event unless it was written already; returns false once the stream has ended. */
  deliver(seq: number, json: string): boolean {
    if (this.#ended) return false;
    if (seq <= this.lastSeq) return true;
    // Stored JSON has no raw line breaks, but a line break in `data:` would cut the message.
    const data = json.includes('\n') || json.includes('\r') ? json.split(/\r\n|\r|\n/).join('\ndata: ') : json;
    // The events written in one turn of the event loop (a page the hub fans out) leave in one
    // write to the socket, not one system call each. What the socket could not take is measured
    // then, against the bound.
    if (!this.#corked) {
      this.#corked = true;
      this.res.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.res.uncork();
        this.#report();
        if (this.#live) this.#checkBound();
      });
    }
    this.res.write(`id: ${seq}\ndata: ${data}\n\n`);
    this.lastSeq = seq;
    this.onDelivered(1);
    return true;
  }

  /** Resolves once the client has taken most of what waits for it (or the stream ended). */
  async flush(): Promise<void> {
    if (this.#ended || this.res.writableLength < CATCH_UP_HIGH_WATER) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  /** From now until `goLive`, offered events are held (at most `bufferBytes` of them). */
  holdOffers(): void {
    this.#held = [];
    this.#heldBytes = 0;
    this.#heldOverflow = false;
  }

  /**
   * Writes the held events and takes each later offer as it comes. Returns false, holding nothing,
   * when more was offered meanwhile than a stream may hold: the caller catches up again.
   */
  goLive(): boolean {
    const held = this.#held ?? [];
    this.#held = undefined;
    if (this.#heldOverflow) return false;
    for (const [seq, json] of held) this.deliver(seq, json);
    this.#live = true;
    return true;
  }

  offer(seq: number, json: string): void {
    if (this.#ended) return;
    if (this.#live) {
      this.deliver(seq, json);
    } else if (this.#held && !this.#heldOverflow && seq > this.lastSeq) {
      // (An offer at or below lastSeq is one the catch-up has written: goLive would drop it, so
      // it must not count against the bound.)
      this.#heldBytes += json.length;
      if (this.#heldBytes > this.options.bufferBytes) {
        this.#heldOverflow = true;
        this.#held = [];
      } else {
        this.#held.push([seq, json]);
      }
    }
  }

  /**
   * Ends the stream with a final `event: error` message in the API's error shape, saying why and
   * where to resume. It carries no `id`, so the client's Last-Event-ID stays the last event's.
   */
  end(code: StreamEndCode, message: string): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#heartbeat);
    const envelope = errorEnvelope(code, message, { last_event_id: this.lastSeq });
    this.res.end(`event: error\ndata: ${JSON.stringify(envelope)}\n\n`);
    // A client that does not read cannot take even that: let its socket go after a grace period.
    setTimeout(() => this.res.destroy(), FINAL_MESSAGE_GRACE_MS).unref();
  }

  /**
   * The heartbeat. A live stream has been offered every event up to the hub's cursor and written
   * each one its filter matches; when that is past the last one written, the heartbeat carries it as
   * `id:`. A message with an `id:` and no `data:` dispatches nothing, but moves the client's
   * Last-Event-ID: a client of a quiet topic then resumes from there, not from its last event,
   * and the store need not read past all the events it skipped again.
   */
  #beat(): void {
    if (this.#ended) return;
    const upTo = this.#live ? this.offeredUpTo() : undefined;
    if (upTo !== undefined && upTo > this.lastSeq) {
      this.lastSeq = upTo;
      this.res.write(`id: ${upTo}\n: heartbeat\n\n`);
    } else {
      this.res.write(': heartbeat\n\n');
    }
  }

  /** Reports the backlog to the replica's budget; cuts this stream when it takes the budget past its limit. */
  #report(): void {
    const budget = this.options.budget;
    if (!budget || this.res.destroyed) return;
    const backlog = this.res.writableLength;
    const within = budget.account(this.#accounted, backlog);
    this.#accounted = backlog;
    if (within || this.#ended) return;
    this.onFellBehind('buffer_budget');
    this.end(
      'stream_fell_behind',
      `this replica's streams have more than ${budget.limitBytes} bytes waiting for their clients ` +
        `(STREAMS_BUFFER_BUDGET_BYTES), and this client is behind; reconnect with Last-Event-ID: ${this.lastSeq}`,
    );
  }

  /**
   * A client may be past the bound once, by one burst (a page the hub fanned out at once may be
   * larger than the bound); past it again before it has taken everything, it is cut off. So a
   * stream holds at most about the bound plus one hub page.
   */
  #checkBound(): void {
    if (this.#ended || this.res.writableLength <= this.options.bufferBytes) return;
    if (!this.#overBound) {
      this.#overBound = true;
      this.res.once('drain', () => {
        this.#overBound = false;
      });
      return;
    }
    this.onFellBehind('fell_behind');
    this.end(
      'stream_fell_behind',
      `the client fell more than ${this.options.bufferBytes} bytes behind; reconnect with Last-Event-ID: ${this.lastSeq}`,
    );
  }
}
