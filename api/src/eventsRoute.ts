import { InvalidQueryError, identifier, type StoredEventRow } from '@aggregator/common';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { StoreProvider } from './storeProvider.js';

export const MAX_PAGE = 1000;

// Repeated parameters arrive as arrays; each one may be given once.
const single = (name: string) => z.string({ error: `"${name}" must be given at most once` });

const querySchema = z.object({
  topic: single('topic').pipe(identifier).optional(),
  after: single('after')
    .regex(/^\d{1,15}$/, 'must be a non-negative integer (the last seq you have seen)')
    .transform(Number)
    .default(0),
  limit: single('limit')
    .regex(/^\d{1,4}$/, `must be an integer from 1 to ${MAX_PAGE}`)
    .transform(Number)
    .pipe(z.number().min(1, `must be from 1 to ${MAX_PAGE}`).max(MAX_PAGE, `must be from 1 to ${MAX_PAGE}`))
    .default(100),
});

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
    const parsed = querySchema.safeParse(ctx.query);
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
