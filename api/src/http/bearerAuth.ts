import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { UnauthorizedError } from './appErrors.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares a presented token with the expected one in constant time (as SHA-256 digests). */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * Requires `Authorization: Bearer <token>` when `token` is set; lets everything through when it is
 * not. Tokens are compared as SHA-256 digests with `timingSafeEqual`, so the comparison takes the
 * same time whatever the guess, and leaks not even the token's length.
 *
 * @param queryParameter - also accept the token in this query parameter (for `GET /events/stream`
 *   only: a browser's EventSource cannot send headers). Only under its literal name: a
 *   percent-encoded name (`access%5Ftoken`) does not count, so that the load balancer's log, which
 *   redacts the parameter by its name, never holds a token that worked. The API logs no query strings.
 */
export function bearerAuth(token: string | undefined, queryParameter?: string): Middleware {
  if (token === undefined) return (_ctx, next) => next();
  const expected = digest(token);
  return (ctx, next) => {
    const fromQuery = queryParameter === undefined ? undefined : literalParameter(ctx.querystring, queryParameter);
    const presented = typeof fromQuery === 'string' ? fromQuery : /^Bearer (.+)$/i.exec(ctx.get('Authorization'))?.[1];
    if (!presented || !timingSafeEqual(digest(presented), expected)) throw new UnauthorizedError();
    return next();
  };
}

/** The value of the first `name=value` pair of a raw query string whose name is `name` as written. */
function literalParameter(querystring: string, name: string): string | undefined {
  for (const pair of querystring.split('&')) {
    if (!pair.startsWith(`${name}=`)) continue;
    try {
      return decodeURIComponent(pair.slice(name.length + 1).replaceAll('+', ' '));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
