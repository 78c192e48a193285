import { attemptRequest, type Connection, withRetries } from './httpAttempt.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retryPolicy.js';
import { selectorQuery } from './streamEvents.js';
import type { StoredEvent, TopicSelector } from './types.js';

export type PagesOptions = TopicSelector & {
  /** Start after this `seq` (default 0: from the first event). */
  after?: number;
  /** Events per page, 1–1000 (default 100). */
  limit?: number;
  signal?: AbortSignal;
  /** Retries of each page request (`408`, `429`, `5xx`, network errors). */
  retry?: Partial<RetryPolicy>;
};

/** The target of a `Link` header's `rel="next"`, if it has one. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /(^|;)\s*rel="?next"?\s*(;|$)/.test(match[2] ?? '')) return match[1];
  }
  return undefined;
}

/**
 * The stored events matching the selector, page by page (`GET /events`), oldest first, following
 * each reply's `Link: rel="next"` until there is none: the last page read reaches the end of the
 * store as it was then. A later call from the last `seq` seen finds what was stored since; such
 * a reader never misses an event (the store's tailing order, docs/postgres.md).
 */
export async function* pages(connection: Connection, options: PagesOptions): AsyncGenerator<StoredEvent[]> {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const query = selectorQuery(options);
  query.set('after', String(options.after ?? 0));
  if (options.limit !== undefined) query.set('limit', String(options.limit));
  let path: string | undefined = `/events?${query}`;
  while (path !== undefined) {
    const current: string = path;
    const ok = await withRetries(
      `GET ${current}`,
      () => attemptRequest(connection, { method: 'GET', path: current, signal: options.signal }),
      { policy, signal: options.signal },
    );
    yield JSON.parse(ok.body) as StoredEvent[];
    const next = nextLink(ok.headers.get('link'));
    // The link is a path on the service (or an absolute URL): keep the client's base URL either way.
    path = next === undefined ? undefined : next.startsWith('/') ? next : pathOf(next);
  }
}

function pathOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}
