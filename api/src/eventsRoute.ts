import { eventsQuerySchema, MAX_EVENTS_PAGE } from '@aggregator/common';
import type { Middleware } from 'koa';
import { parseQuery } from './parseQuery.js';
import type { StoreProvider } from './storeProvider.js';

export const MAX_PAGE = MAX_EVENTS_PAGE;

/**
 * `GET /events?topic=&after=&limit=`: unique events in processing order (`seq`). When more rows
 * exist, `Link: <…>; rel="next"` names the next page.
 */
export function eventsRoute(store: StoreProvider): Middleware {
  return async (ctx) => {
    const { topic, after, limit } = parseQuery(eventsQuerySchema, ctx.query);
    // Each row comes as JSON text built by the database, payload as stored: nothing is parsed here.
    const rows = await store.read((reader) => reader.listEventsAsJson({ topic, after, limit: limit + 1 }));
    const page = rows.length > limit ? rows.slice(0, limit) : rows;
    if (rows.length > limit) {
      const next = new URLSearchParams();
      if (topic !== undefined) next.set('topic', topic);
      next.set('after', String(page[page.length - 1]?.[0]));
      next.set('limit', String(limit));
      ctx.set('Link', `</events?${next.toString()}>; rel="next"`);
    }
    ctx.type = 'application/json';
    ctx.body = `[${page.map((row) => row[1]).join(',')}]`;
  };
}
