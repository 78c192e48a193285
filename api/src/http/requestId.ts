import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';

const SAFE_ID = /^[\w.:-]{1,128}$/;

export interface RequestState {
  requestId: string;
}

/**
 * Accepts a sane `X-Request-Id` from the client (or the load balancer) or makes one, returns it in
 * the response, and keeps it in `ctx.state` for the error log. (No child logger per request: only
 * failed requests are logged, and building one cost every request an allocation-heavy object.)
 */
export function requestId(): Middleware<RequestState> {
  return async (ctx, next) => {
    const given = ctx.get('X-Request-Id');
    const id = SAFE_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    await next();
  };
}
