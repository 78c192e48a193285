import { eventsQuerySchema, InvalidQueryError, MAX_EVENTS_PAGE, type StoredEventRow } from '@aggregator/common';
import type { Middleware } from 'koa';
import type { StoreProvider } from './storeProvider.js';

export const MAX_PAGE = MAX_EVENTS_PAGE;

/**
 * Serialises rows without re-parsing payloads: each payload is spliced in as the JSON text the
 * store holds, so it comes back exactly as it was stored.
 */
export function serialiseEvents(rows: readonly StoredEventRow[]): string {
  const parts = rows.map(
    (r) =>
      `{"topic":${JSON.stringify(r.topic)},"event_id":${JSON.stringify(r.event_id)},` +
      `"timestamp":${JSON.stringify(r.timestamp)},"source":${JSON.stringify(r.source)},` +
      `"payload":${r.payload},"seq":${r.seq},"processed_at":${JSON.stringify(r.processed_at)}}`,
  );
  return `[${parts.join(',')}]`;
}

/**
 * `GET /events?topic=&after=&limit=`: unique events in processing order (`seq`). When more rows
 * exist, `Link: <…>; rel="next"` names the next page.
 */
export function eventsRoute(store: StoreProvider): Middleware {
  return async (ctx) => {
    const parsed = eventsQuerySchema.safeParse(ctx.query);
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
      const first = details[0];
      throw new InvalidQueryError(`invalid query parameter ${first?.path}: ${first?.message}`, details);
    }
    const { topic, after, limit } = parsed.data;
    const rows = store.get().listEvents({ topic, after, limit: limit + 1 });
    const page = rows.length > limit ? rows.slice(0, limit) : rows;
    if (rows.length > limit) {
      const next = new URLSearchParams();
      if (topic !== undefined) next.set('topic', topic);
      next.set('after', String(page[page.length - 1]?.seq));
      next.set('limit', String(limit));
      ctx.set('Link', `</events?${next.toString()}>; rel="next"`);
    }
    ctx.type = 'application/json';
    ctx.body = serialiseEvents(page);
  };
}
