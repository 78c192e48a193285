import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { errorOf, RetriesExhaustedError, StreamError } from './errors.js';
import { apiErrorOf, authHeaders, type Connection, urlOf } from './httpAttempt.js';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, type RetryPolicy, retryDelay, sleep } from './retryPolicy.js';
import { HANDLED_ERROR_CODES, type StoredEvent, type TopicSelector } from './types.js';

export type StreamOptions = TopicSelector & {
  /** Start after this `seq` (the last one you have): 0, the default, is from the first event. */
  after?: number;
  signal?: AbortSignal;
  /**
   * Reconnection backoff; `maxRetryMs` (default Infinity) is how long the stream may fail to open
   * before the iterator throws `RetriesExhaustedError`.
   */
  retry?: Partial<RetryPolicy>;
  /**
   * A connection that brings nothing, not even the server's heartbeat (every 15 s by default),
   * for this long is taken as dead and replaced. Default 45,000 ms.
   */
  idleTimeoutMs?: number;
  /** Each time the stream is opened again, with the `seq` it resumes after and why. */
  onReconnect?: (info: { after: number; reason: string }) => void;
};

/** Codes of a final `event: error` message after which reconnecting is all there is to do. */
const TRANSIENT_STREAM_ERRORS = new Set<string>([
  HANDLED_ERROR_CODES.shuttingDown,
  HANDLED_ERROR_CODES.storeUnavailable,
]);

/** The query of `GET /events/stream` and `GET /events` for a selector. */
export function selectorQuery(selector: TopicSelector): URLSearchParams {
  const query = new URLSearchParams();
  if (selector.topic !== undefined) query.set('topic', selector.topic);
  if (selector.topicPattern !== undefined) query.set('topic_pattern', selector.topicPattern);
  return query;
}

/**
 * The events of `GET /events/stream` matching the selector, from `after` on, as an async iterator
 * that outlives any one connection: after a disconnect (a replica stopping or killed, the load
 * balancer, the network) it reconnects with `Last-Event-ID` set to the last `seq` it yielded, so
 * the events come once each and in `seq` order, whatever happens underneath.
 *
 * It throws `StreamError` when the server cut the stream because this consumer read too slowly
 * (`stream_fell_behind`; resume from `error.lastEventId` once the consumer can keep up), `ApiError`
 * for a reply that retrying cannot change (`400 invalid_query`, `401`), and
 * `RetriesExhaustedError` past the retry budget. Breaking out of the loop closes the connection.
 *
 * The SSE framing is parsed by `eventsource-parser`. It does not report a message that carries an
 * `id:` but no data (the server's heartbeat position on a quiet filter), so a resume starts after
 * the last event yielded: correct, only it re-reads the events the filter skipped since.
 */
export async function* streamEvents(connection: Connection, options: StreamOptions): AsyncGenerator<StoredEvent> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, maxRetryMs: Number.POSITIVE_INFINITY, ...options.retry };
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const outer = options.signal;
  let last = options.after ?? 0;
  if (!Number.isSafeInteger(last) || last < 0) throw new RangeError('after must be a whole number of 0 or more');
  const query = selectorQuery(options);
  /** Consecutive failed opens or empty connections; resets when an event arrives. */
  let failures = 0;
  let failingSince: number | undefined;
  let reason = '';

  for (;;) {
    outer?.throwIfAborted();
    if (failures > 0) {
      failingSince ??= Date.now();
      if (Date.now() - failingSince > policy.maxRetryMs) {
        throw new RetriesExhaustedError(
          `GET /events/stream failing for ${policy.maxRetryMs} ms; last: ${reason}`,
          failures,
          false,
        );
      }
    }
    const connectionAbort = new AbortController();
    const signal = outer ? AbortSignal.any([outer, connectionAbort.signal]) : connectionAbort.signal;
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const armIdle = (ms: number) => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => connectionAbort.abort(new Error(`no data for ${ms} ms`)), ms);
    };
    let retryAfterMs: number | undefined;
    try {
      query.set('after', String(last));
      armIdle(connection.requestTimeoutMs);
      const opened = await openStream(connection, `/events/stream?${query}`, last, signal, outer);
      if (!('body' in opened)) {
        ({ reason, retryAfterMs } = opened);
        failures++;
      } else {
        failingSince = undefined;
        const messages: EventSourceMessage[] = [];
        const parser = createParser({ onEvent: (message) => messages.push(message) });
        const reader = opened.body.getReader();
        const decoder = new TextDecoder();
        let delivered = 0;
        try {
          read: for (;;) {
            armIdle(idleTimeoutMs);
            const chunk = await reader.read();
            if (chunk.done) break;
            parser.feed(decoder.decode(chunk.value, { stream: true }));
            for (let message = messages.shift(); message; message = messages.shift()) {
              if (message.event === 'error') {
                const error = errorOf(message.data);
                const code = error?.code ?? 'unknown';
                if (TRANSIENT_STREAM_ERRORS.has(code)) break read;
                throw new StreamError(code, error?.message ?? message.data, last);
              }
              const seq = Number(message.id);
              // Never yield an event twice, whatever a server sends.
              if (!(seq > last)) continue;
              const event = JSON.parse(message.data) as StoredEvent;
              last = seq;
              delivered++;
              failures = 0;
              clearTimeout(idleTimer);
              yield event;
            }
          }
          reason = 'the server ended the stream';
        } catch (thrown: unknown) {
          if (outer?.aborted) throw outer.reason;
          if (thrown instanceof StreamError) throw thrown;
          reason = thrown instanceof Error ? thrown.message : String(thrown);
        } finally {
          reader.cancel().catch(() => {});
        }
        if (delivered === 0) failures++;
      }
    } finally {
      clearTimeout(idleTimer);
      connectionAbort.abort();
    }
    // Disconnected: wait (the first reconnect after a working stream barely), then resume after `last`.
    await sleep(retryDelay(policy, Math.max(0, failures - 1), retryAfterMs), outer);
    options.onReconnect?.({ after: last, reason });
  }
}

/**
 * Opens one connection: the response of a `200`, or why to retry. Throws `ApiError` for a reply
 * that retrying cannot change, and the abort reason when `outer` aborts.
 */
async function openStream(
  connection: Connection,
  path: string,
  last: number,
  signal: AbortSignal,
  outer: AbortSignal | undefined,
): Promise<{ body: ReadableStream<Uint8Array> } | { reason: string; retryAfterMs?: number }> {
  let res: Response;
  try {
    res = await connection.fetch(urlOf(connection, path), {
      headers: { accept: 'text/event-stream', 'last-event-id': String(last), ...authHeaders(connection) },
      signal,
    });
  } catch (thrown: unknown) {
    if (outer?.aborted) throw outer.reason;
    return { reason: thrown instanceof Error ? thrown.message : String(thrown) };
  }
  if (res.status === 200 && res.body) return { body: res.body };
  const body = await res.text().catch(() => '');
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    return {
      reason: `${res.status} ${errorOf(body)?.code ?? ''}`,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
    };
  }
  throw apiErrorOf({ status: res.status, body });
}
