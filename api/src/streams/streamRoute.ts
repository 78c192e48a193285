import { type Config, coerceError, type Logger, type Metrics } from '@aggregator/common';
import type { Middleware } from 'koa';
import { streamQuerySchema, type TopicFilter, topicFilterOf } from '../apiSchemas.js';
import { InvalidQueryError } from '../http/appErrors.js';
import { parseQuery } from '../reading/parseQuery.js';
import type { StoreProvider } from '../reading/storeProvider.js';
import type { OpenStreams } from './openStreams.js';
import { SseStream } from './sseStream.js';
import type { StreamHub } from './streamHub.js';

/** What the stream route needs. */
export interface StreamDeps {
  config: Pick<Config, 'STREAM_BUFFER_BYTES' | 'STREAM_HEARTBEAT_MS'>;
  store: StoreProvider;
  hub: StreamHub;
  streams: OpenStreams;
  metrics: Metrics;
  logger: Logger;
}

/** Rows a catching-up stream reads per query. */
const CATCH_UP_PAGE = 500;
/** The reconnection delay suggested to clients. */
const RETRY_MS = 1000;

/**
 * `GET /events/stream?topic=|topic_pattern=&after=`: every stored event matching the filter with a `seq` above
 * `after` (or the `Last-Event-ID` header), as Server-Sent Events, then each new one as it is
 * stored, until the client goes. Errors before the stream opens are ordinary JSON replies (400,
 * 401, 503); after, the stream ends with a final `event: error` message.
 */
export function streamRoute(deps: StreamDeps): Middleware {
  return async (ctx) => {
    const { filter, after } = parseStreamQuery(ctx.query, ctx.get('Last-Event-ID'));
    // The address the nearest proxy saw (Koa's maxIpsCount 1), else the peer's.
    const slot = deps.streams.reserve(ctx.ip);
    try {
      // Before the headers, so a store that cannot be read is a plain 503.
      await deps.hub.start();
    } catch (e: unknown) {
      slot.release();
      throw e;
    }
    ctx.respond = false;
    // The client may have gone while the store answered: its 'close' has been and gone, and a
    // stream opened now would never learn of it.
    if (ctx.req.socket.destroyed) {
      slot.release();
      return;
    }
    ctx.status = 200;
    ctx.req.socket.setNoDelay(true);
    const stream = new SseStream(
      ctx.res,
      filter,
      after,
      {
        bufferBytes: deps.config.STREAM_BUFFER_BYTES,
        heartbeatMs: deps.config.STREAM_HEARTBEAT_MS,
        retryMs: RETRY_MS,
        budget: deps.streams.budget,
      },
      (n) => deps.metrics.streamEventsDelivered.inc(n),
      (reason) => deps.metrics.streamsCut.inc({ reason }),
      () => deps.hub.cursor,
    );
    deps.streams.add(stream, slot);
    try {
      await follow(stream, deps);
    } catch (e: unknown) {
      deps.logger.warn({ err: coerceError(e).message }, 'a stream could not read the store; ending it');
      if (!stream.ended) {
        stream.end('store_unavailable', `the store could not be read; reconnect with Last-Event-ID: ${stream.lastSeq}`);
        deps.metrics.streamsCut.inc({ reason: 'store_unavailable' });
      }
    }
    await stream.closed;
    deps.hub.leave(stream);
  };
}

/**
 * Brings `stream` from its start to the hub's live events without a gap or a repeat:
 * 1. it pages the store alone, with its own filter, until a page comes back short (it is near the head);
 * 2. it joins the hub, holding the hub's offers, and pages on up to the cursor at which the hub
 *    took over; every row up to that cursor is visible (the hub has read it), so the short page
 *    or a row beyond it means it has them all;
 * 3. it writes what it held (`lastSeq` drops the overlap) and goes live. If more arrived meanwhile
 *    than it may hold, it leaves the hub and starts over from 1.
 */
async function follow(stream: SseStream, deps: StreamDeps): Promise<void> {
  for (;;) {
    await catchUp(stream, deps.store, Number.POSITIVE_INFINITY);
    if (stream.ended) return;
    stream.holdOffers();
    const joinedAt = await deps.hub.join(stream);
    await catchUp(stream, deps.store, joinedAt);
    if (stream.ended || stream.goLive()) return;
    deps.hub.leave(stream);
  }
}

/** Pages the store after `stream.lastSeq`, writing each row up to `upTo`, until a page is short. */
async function catchUp(stream: SseStream, store: StoreProvider, upTo: number): Promise<void> {
  for (;;) {
    const after = stream.lastSeq;
    const rows = await store.read((reader) =>
      reader.listEventsAsJson({ ...stream.filter, after, limit: CATCH_UP_PAGE }),
    );
    for (const [seq, json] of rows) {
      if (seq > upTo || !stream.deliver(seq, json)) return;
    }
    if (rows.length < CATCH_UP_PAGE) return;
    await stream.flush();
    if (stream.ended) return;
  }
}

/** The filter and start of a stream request. @throws InvalidQueryError */
function parseStreamQuery(query: unknown, lastEventId: string): { filter: TopicFilter; after: number } {
  const parsed = parseQuery(streamQuerySchema, query);
  let after = parsed.after;
  if (lastEventId !== '') {
    if (!/^\d{1,15}$/.test(lastEventId)) {
      const message = 'must be a non-negative integer (the seq of the last event received)';
      throw new InvalidQueryError(`invalid header Last-Event-ID: ${message}`, [{ path: 'Last-Event-ID', message }]);
    }
    after = Number(lastEventId);
  }
  return { filter: topicFilterOf(parsed), after };
}
