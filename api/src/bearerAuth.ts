import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '@aggregator/common';
import type { Middleware } from 'koa';

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
 *   only: a browser's EventSource cannot send headers). Nothing logs query strings.
 */
export function bearerAuth(token: string | undefined, queryParameter?: string): Middleware {
  if (token === undefined) return (_ctx, next) => next();
  const expected = digest(token);
  return (ctx, next) => {
    const fromQuery = queryParameter === undefined ? undefined : ctx.query[queryParameter];
    const presented = typeof fromQuery === 'string' ? fromQuery : /^Bearer (.+)$/i.exec(ctx.get('Authorization'))?.[1];
    if (!presented || !timingSafeEqual(digest(presented), expected)) throw new UnauthorizedError();
    return next();
  };
}
