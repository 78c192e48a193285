import { StreamError } from './errors.js';
import type { Connection } from './httpAttempt.js';
import { type StreamOptions, streamEvents } from './streamEvents.js';
import type { StoredEvent } from './types.js';

export type SubscribeOptions = StreamOptions & {
  /** Called for each event, in `seq` order, once each; the next waits for the promise it returns. */
  onEvent: (event: StoredEvent) => void | Promise<void>;
  /**
   * Called when the server cut the stream because this consumer fell behind (`StreamError`).
   * Return `'resume'` to go on from the last event delivered; anything else ends the subscription
   * with the error. Without it, the subscription ends with the error.
   */
  onError?: (error: StreamError) => 'resume' | 'stop' | Promise<'resume' | 'stop'>;
};

/** A running subscription. */
export interface Subscription {
  /** Settles when the subscription ends: resolves after `close()`, rejects with the error that ended it. */
  done: Promise<void>;
  /** The `seq` of the last event handed to `onEvent`: where a new subscription would resume. */
  readonly lastEventId: number;
  /** Stops it and waits until it has; idempotent. */
  close(): Promise<void>;
}

/** `streamEvents` in callback form; see there for what reconnects and what ends it. */
export function subscribe(connection: Connection, options: SubscribeOptions): Subscription {
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let last = options.after ?? 0;
  const run = async () => {
    for (;;) {
      try {
        for await (const event of streamEvents(connection, { ...options, after: last, signal })) {
          await options.onEvent(event);
          last = event.seq;
        }
      } catch (thrown: unknown) {
        if (stop.signal.aborted) return;
        if (thrown instanceof StreamError && options.onError && (await options.onError(thrown)) === 'resume') continue;
        throw thrown;
      }
    }
  };
  const done = run();
  // A caller that only closes must not see an unhandled rejection; `done` still rejects for one that awaits it.
  done.catch(() => {});
  let closed: Promise<void> | undefined;
  return {
    done,
    get lastEventId() {
      return last;
    },
    close() {
      closed ??= (async () => {
        stop.abort(new Error('subscription closed'));
        await done.catch(() => {});
      })();
      return closed;
    },
  };
}
