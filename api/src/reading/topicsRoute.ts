import type { Middleware } from 'koa';
import { topicsQuerySchema } from '../apiSchemas.js';
import { nextPageLink, parseQuery } from './parseQuery.js';
import type { StoreProvider } from './storeProvider.js';

/**
 * `GET /topics?topic_pattern=&after=&limit=`: each topic with its number of stored events and its
 * last `seq`, sorted by name in byte order (UTF-8). When more topics exist, `Link: <…>; rel="next"`
 * names the next page (`after` = the last topic of this one).
 */
export function topicsRoute(store: StoreProvider): Middleware {
  return async (ctx) => {
    const { topic_pattern: topicPattern, after, limit } = parseQuery(topicsQuerySchema, ctx.query);
    const rows = await store.read((reader) => reader.listTopicStats({ topicPattern, after, limit: limit + 1 }));
    const page = rows.length > limit ? rows.slice(0, limit) : rows;
    if (rows.length > limit) {
      ctx.set(
        'Link',
        nextPageLink('/topics', { topic_pattern: topicPattern?.source, after: page[page.length - 1]?.topic, limit }),
      );
    }
    ctx.body = page;
  };
}
