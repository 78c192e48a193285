import type { Middleware } from 'koa';
import { eventsQuerySchema, MAX_EVENTS_PAGE, topicFilterOf } from '../apiSchemas.js';
import { nextPageLink, parseQuery } from './parseQuery.js';
import type { StoreProvider } from './storeProvider.js';

export const MAX_PAGE = MAX_EVENTS_PAGE;

/**
 * `GET /events?topic=|topic_pattern=&after=&limit=`: unique events in processing order (`seq`).
 * When more rows exist, `Link: <…>; rel="next"` names the next page, with the same topic or pattern.
 */
export function eventsRoute(store: StoreProvider): Middleware {
  return async (ctx) => {
    const query = parseQuery(eventsQuerySchema, ctx.query);
    const { after, limit } = query;
    const filter = topicFilterOf(query);
    // Each row comes as JSON text built by the database, payload as stored: nothing is parsed here.
    const rows = await store.read((reader) => reader.listEventsAsJson({ ...filter, after, limit: limit + 1 }));
    const page = rows.length > limit ? rows.slice(0, limit) : rows;
    if (rows.length > limit) {
      ctx.set(
        'Link',
        nextPageLink('/events', {
          topic: filter.topic,
          topic_pattern: filter.topicPattern?.source,
          after: page[page.length - 1]?.[0],
          limit,
        }),
      );
    }
    ctx.type = 'application/json';
    ctx.body = `[${page.map((row) => row[1]).join(',')}]`;
  };
}
