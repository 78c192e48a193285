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
 */
export function bearerAuth(token: string | undefined): Middleware {
  if (token === undefined) return (_ctx, next) => next();
  const expected = digest(token);
  return (ctx, next) => {
    const match = /^Bearer (.+)$/i.exec(ctx.get('Authorization'));
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) throw new UnauthorizedError();
    return next();
  };
}
